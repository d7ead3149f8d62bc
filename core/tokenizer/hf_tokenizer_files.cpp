#include "core/tokenizer/hf_tokenizer_files.h"

#include <nlohmann/json.hpp>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/spm_tokenizer.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

using nlohmann::json;

bool has_hf_tokenizer_files(const GgufVocab& vocab) { return vocab.model == "gpt2" && !vocab.merges.empty(); }

HfTokenizerFiles hf_tokenizer_files(const GgufVocab& v, const std::string& source) {
    if (!has_hf_tokenizer_files(v))
        throw InputError(source, "its tokenizer (\"" + v.model + "\") has no Hugging Face tokenizer.json form here; only byte-level BPE with merges has");
    const auto token = [&](std::int32_t id) -> json {
        return id >= 0 && static_cast<std::size_t>(id) < v.tokens.size() ? json(v.tokens[static_cast<std::size_t>(id)]) : json();
    };

    json vocab = json::object();
    for (std::size_t i = 0; i < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
    json merges = json::array();
    for (const std::string& m : v.merges) {
        const auto space = m.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == m.size())
            throw InputError(source, "merge \"" + m + "\" is not two tokens separated by a space");
        merges.push_back({m.substr(0, space), m.substr(space + 1)});
    }
    const GgufPreSpec pre = gguf_pre_spec(v.pre);
    json steps = json::array();
    for (const char* pattern : pre.splits)
        steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}});
    steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
    // Control and user-defined tokens are matched whole in the text, as the GGUF tokenizer does.
    json added = json::array();
    for (std::size_t i = 0; i < v.token_types.size(); ++i) {
        const auto type = static_cast<TokenType>(v.token_types[i]);
        if (type != TokenType::Control && type != TokenType::UserDefined) continue;
        added.push_back({{"id", i}, {"content", v.tokens[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", type == TokenType::Control}});
    }
    json post = nullptr;
    if (v.add_bos && v.bos_id >= 0) {
        const json bos = token(v.bos_id);
        const auto special = [&](int type_id) { return json{{"SpecialToken", {{"id", bos}, {"type_id", type_id}}}}; };
        const auto sequence = [](const char* id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
        json special_tokens = json::object();
        special_tokens[bos.get<std::string>()] = {{"id", bos}, {"ids", json::array({v.bos_id})}, {"tokens", json::array({bos})}};
        post = {{"type", "TemplateProcessing"},
                {"single", json::array({special(0), sequence("A", 0)})},
                {"pair", json::array({special(0), sequence("A", 0), special(1), sequence("B", 1)})},
                {"special_tokens", special_tokens}};
    }
    const json tokenizer = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", pre.nfc ? json{{"type", "NFC"}} : json()},
        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", steps}}},
        {"post_processor", post},
        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
          {"ignore_merges", pre.ignore_merges}, {"vocab", vocab}, {"merges", merges}}},
    };
    const json config = {
        {"tokenizer_class", "PreTrainedTokenizerFast"},
        {"bos_token", token(v.bos_id)},
        {"eos_token", token(v.eos_id)},
        {"pad_token", token(v.pad_id)},
        {"add_bos_token", v.add_bos},
        {"add_eos_token", false},
        {"clean_up_tokenization_spaces", false},
    };
    return {tokenizer.dump(1), config.dump(2)};
}

}  // namespace scalebits::tokenizer
