// Hugging Face tokenizer.json for BPE models: byte-level (SmolLM2, Llama 3, Qwen2/3, GPT-2: ByteLevel
// with Split/Digits pre-tokenizers, NFC) and SentencePiece-style (Llama 2, Mistral: Metaspace or the
// Prepend+Replace normalizer, byte_fallback, the Replace/ByteFallback/Fuse/Strip decoder). Only the
// parts those models use are accepted; anything else is refused with a message naming the part
// rather than tokenized differently from the reference.
#include <algorithm>
#include <cctype>

#include "core/io/json_strict.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/factory.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

namespace {

using nlohmann::json;

// A literal string as a PCRE2 pattern.
std::string escape_regex(const std::string& s) {
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80 && !std::isalnum(u)) out += '\\';
        out += c;
    }
    return out;
}

bool is_null_or_absent(const json& j, const char* key) { return !j.contains(key) || j[key].is_null(); }

struct JsonLoader {
    explicit JsonLoader(std::filesystem::path p) : path(std::move(p)), source(path.string()) { spec.source = source; }
    std::filesystem::path path;
    std::string source;
    BpeSpec spec;
    bool byte_level = false, characters = false;  // which kind of vocabulary the parts describe

    [[noreturn]] void fail(const std::string& problem) const { throw FormatError(path, problem); }

    const json& member(const json& j, const char* key, const char* where) const {
        if (!j.is_object() || !j.contains(key)) fail(std::string(where) + " has no \"" + key + "\"");
        return j[key];
    }

    void add_pre_tokenizer(const json& p) {
        if (p.is_null()) return;
        const std::string type = member(p, "type", "pre_tokenizer").get<std::string>();
        if (type == "Sequence") {
            for (const json& step : member(p, "pretokenizers", "Sequence pre_tokenizer")) add_pre_tokenizer(step);
        } else if (type == "Digits") {
            const bool individual = p.value("individual_digits", false);
            spec.pre.add_split(individual ? patterns::single_digit : patterns::digit_runs, source);
        } else if (type == "ByteLevel") {
            byte_level = true;
            if (p.value("add_prefix_space", false)) spec.add_prefix_space = true;
            if (p.value("use_regex", true)) spec.pre.add_split(patterns::gpt2, source);
        } else if (type == "Metaspace") {
            read_metaspace(p);
        } else if (type == "Split") {
            const json& pattern = member(p, "pattern", "Split pre_tokenizer");
            const std::string behavior = p.value("behavior", std::string("Isolated"));
            if (behavior != "Isolated" || p.value("invert", false))
                fail("Split pre_tokenizer behavior \"" + behavior + "\" (or invert) is not supported");
            if (pattern.contains("Regex")) spec.pre.add_split(pattern["Regex"].get<std::string>(), source);
            else if (pattern.contains("String")) spec.pre.add_split(escape_regex(pattern["String"].get<std::string>()), source);
            else fail("Split pre_tokenizer pattern is neither Regex nor String");
        } else {
            fail("pre_tokenizer type \"" + type + "\" is not supported");
        }
    }

    // Metaspace (pre-tokenizer or decoder): spaces as U+2581, prepended per its scheme.
    void read_metaspace(const json& p) {
        if (p.value("replacement", std::string("\xE2\x96\x81")) != "\xE2\x96\x81")
            fail("Metaspace replacement other than U+2581 is not supported");
        if (p.value("split", true)) fail("Metaspace with split = true is not supported (SentencePiece models use false)");
        std::string scheme = p.value("prepend_scheme", std::string("always"));
        if (p.contains("add_prefix_space") && p["add_prefix_space"].is_boolean() && !p["add_prefix_space"].get<bool>())
            scheme = "never";
        characters = true;
        spec.metaspace = true;
        if (scheme == "first") spec.prepend = BpeSpec::Prepend::First;
        else if (scheme == "always") spec.prepend = BpeSpec::Prepend::Always;
        else if (scheme == "never") spec.prepend = BpeSpec::Prepend::Never;
        else fail("Metaspace prepend_scheme \"" + scheme + "\" is not supported");
    }

    // Normalizers: NFC (Qwen2), and the legacy SentencePiece pair Prepend("\u2581") + Replace(" ", "\u2581").
    void read_normalizer(const json& n) {
        if (n.is_null()) return;
        const std::string type = member(n, "type", "normalizer").get<std::string>();
        if (type == "Sequence") {
            const json& steps = member(n, "normalizers", "Sequence normalizer");
            bool prepended = false;
            for (const json& step : steps) {
                const std::string t = member(step, "type", "normalizer").get<std::string>();
                if (t == "Prepend") {
                    if (step.value("prepend", std::string()) != "\xE2\x96\x81")
                        fail("Prepend normalizer with anything but U+2581 is not supported");
                    prepended = true;
                } else if (t == "Replace") {
                    const json& pat = member(step, "pattern", "Replace normalizer");
                    if (!pat.contains("String") || pat["String"] != " " || step.value("content", std::string()) != "\xE2\x96\x81")
                        fail("Replace normalizer other than \" \" -> U+2581 is not supported");
                    characters = true;
                    spec.metaspace = true;
                    spec.prepend = prepended ? BpeSpec::Prepend::Unconditional : BpeSpec::Prepend::Never;
                } else if (t == "NFC") {
                    spec.nfc = true;
                } else {
                    fail("normalizer \"" + t + "\" is not supported");
                }
            }
            if (prepended && !spec.metaspace) fail("a Prepend normalizer without Replace(\" \", U+2581) is not supported");
        } else if (type == "NFC") {
            spec.nfc = true;
        } else {
            fail("normalizer \"" + type + "\" is not supported (NFC and SentencePiece's Prepend/Replace are)");
        }
    }

    // Decoders: ByteLevel, Metaspace, or SentencePiece's Replace / ByteFallback / Fuse / Strip sequence.
    void read_decoder(const json& d) {
        if (d.is_null()) return;
        const std::string type = member(d, "type", "decoder").get<std::string>();
        if (type == "ByteLevel") {
            byte_level = true;
        } else if (type == "Metaspace") {
            characters = true;
            if (d.value("prepend_scheme", std::string("always")) != "never") spec.strip_leading_space = true;
        } else if (type == "Sequence") {
            for (const json& step : member(d, "decoders", "Sequence decoder")) {
                const std::string t = member(step, "type", "decoder").get<std::string>();
                if (t == "Replace") {
                    const json& pat = member(step, "pattern", "Replace decoder");
                    if (!pat.contains("String") || pat["String"] != "\xE2\x96\x81" || step.value("content", std::string()) != " ")
                        fail("Replace decoder other than U+2581 -> \" \" is not supported");
                    characters = true;
                } else if (t == "Strip") {
                    const auto count = [&](const char* key) {
                        return step.contains(key) ? io::json_integer<std::int64_t>(step[key], path, std::string("Strip decoder '") + key + "'")
                                                  : std::int64_t{0};
                    };
                    const std::int64_t start = count("start"), stop = count("stop");
                    if (step.value("content", std::string(" ")) != " " || stop != 0 || start < 0 || start > 1)
                        fail("Strip decoder other than one leading space is not supported");
                    spec.strip_leading_space = start == 1;
                } else if (t == "ByteFallback" || t == "Fuse") {
                    // <0xXX> tokens decode to their byte; tokens are concatenated.
                } else if (t == "ByteLevel") {
                    byte_level = true;
                } else {
                    fail("decoder \"" + t + "\" is not supported");
                }
            }
        } else {
            fail("decoder \"" + type + "\" is not supported (ByteLevel, Metaspace and SentencePiece's sequence are)");
        }
    }

    void read_model(const json& model) {
        if (model.value("type", std::string("BPE")) != "BPE")
            fail("model type \"" + model["type"].get<std::string>() + "\" is not supported (only BPE)");
        spec.byte_fallback = model.value("byte_fallback", false);
        spec.fuse_unk = model.value("fuse_unk", false);
        if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() != 0.0)
            fail("BPE dropout is not supported");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
            if (!is_null_or_absent(model, key) && !model[key].get<std::string>().empty())
                fail(std::string("BPE ") + key + " is not supported");
        spec.ignore_merges = model.value("ignore_merges", false);

        const json& vocab = member(model, "vocab", "model");
        if (!vocab.is_object()) fail("model.vocab is not an object");
        spec.tokens.assign(vocab.size(), std::string());
        std::vector<bool> seen(vocab.size(), false);
        for (const auto& [text, id_json] : vocab.items()) {
            if (!id_json.is_number_integer()) fail("vocab entry \"" + text + "\" has no integer id");
            const auto id = id_json.get<std::int64_t>();
            if (id < 0 || id >= static_cast<std::int64_t>(vocab.size()))
                fail("vocab id " + std::to_string(id) + " of \"" + text + "\" is out of range for " +
                     std::to_string(vocab.size()) + " tokens");
            if (seen[id]) fail("vocab id " + std::to_string(id) + " is used twice");
            seen[id] = true;
            spec.tokens[id] = text;
        }

        const json& merges = member(model, "merges", "model");
        if (!merges.is_array()) fail("model.merges is not an array");
        spec.merges.reserve(merges.size());
        for (const json& m : merges) {
            // Older files write "a b", newer ones ["a", "b"].
            if (m.is_string()) spec.merges.push_back(m.get<std::string>());
            else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
                spec.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
            else fail("merge " + std::to_string(spec.merges.size()) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
        if (model.contains("unk_token") && model["unk_token"].is_string()) {
            const std::string unk = model["unk_token"].get<std::string>();
            for (std::size_t i = 0; i < spec.tokens.size(); ++i)
                if (spec.tokens[i] == unk) spec.unk_id = static_cast<std::int32_t>(i);
            if (spec.unk_id < 0) fail("unk_token \"" + unk + "\" is not in the vocabulary");
        }
    }

    void read_added_tokens(const json& added) {
        if (added.is_null()) return;
        if (!added.is_array()) fail("added_tokens is not an array");
        const std::size_t base = spec.tokens.size();
        std::vector<bool> filled(added.size(), false);  // ids past the model vocabulary
        spec.tokens.resize(base + added.size());
        std::size_t top = base;
        for (const json& t : added) {
            const auto id = io::json_integer<std::int64_t>(member(t, "id", "added token"), path, "an added token's id");
            const std::string content = member(t, "content", "added token").get<std::string>();
            if (id < 0 || id >= static_cast<std::int64_t>(base + added.size()))
                fail("added token \"" + content + "\" has id " + std::to_string(id) + ", out of range");
            if (static_cast<std::size_t>(id) < base) {
                if (spec.tokens[id] != content)
                    fail("added token id " + std::to_string(id) + " \"" + content + "\" differs from the vocabulary's \"" +
                         spec.tokens[id] + "\"");
            } else {
                if (filled[id - base]) fail("added token id " + std::to_string(id) + " is used twice");
                filled[id - base] = true;
                spec.tokens[id] = content;
                top = std::max(top, static_cast<std::size_t>(id) + 1);
            }
            spec.special_ids.push_back(static_cast<std::int32_t>(id));
        }
        for (std::size_t i = base; i < top; ++i)
            if (!filled[i - base]) fail("token ids jump over " + std::to_string(i) + " (no vocab or added token has it)");
        spec.tokens.resize(top);
    }

    std::int32_t id_of(const std::string& text) const {
        for (std::int32_t id : spec.special_ids)
            if (spec.tokens[id] == text) return id;
        return -1;
    }

    // bos/eos are not part of tokenizer.json; tokenizer_config.json beside it names them.
    void read_special_roles() {
        const auto config_path = path.parent_path() / "tokenizer_config.json";
        if (!std::filesystem::exists(config_path)) return;
        const json config = io::read_json_file(config_path);
        const auto role = [&](const char* key) -> std::int32_t {
            if (!config.contains(key)) return -1;
            const json& v = config[key];
            const std::string text = v.is_string() ? v.get<std::string>()
                                     : v.is_object() && v.contains("content") ? v["content"].get<std::string>()
                                                                              : std::string();
            return text.empty() ? -1 : id_of(text);
        };
        spec.bos_id = role("bos_token");
        spec.eos_id = role("eos_token");
        // Whether generation starts with BOS (Llama 2 / Mistral: add_bos_token true).
        if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
            spec.add_bos = config["add_bos_token"].get<bool>();
    }
};

}  // namespace

std::shared_ptr<const Tokenizer> load_tokenizer_json(const std::filesystem::path& path) {
    const json root = io::read_json_file(path);
    JsonLoader loader(path);
    try {
        if (!root.is_object()) loader.fail("is not a JSON object");
        loader.read_normalizer(root.value("normalizer", json()));
        loader.read_decoder(root.value("decoder", json()));
        loader.read_model(loader.member(root, "model", "tokenizer.json"));
        loader.read_added_tokens(root.value("added_tokens", json()));
        if (root.contains("pre_tokenizer")) loader.add_pre_tokenizer(root["pre_tokenizer"]);
        loader.read_special_roles();
        if (loader.byte_level && loader.characters)
            loader.fail("mixes byte-level parts (ByteLevel) with SentencePiece-style ones (Metaspace, U+2581)");
        if (!loader.byte_level && !loader.characters)
            loader.fail("has neither a ByteLevel nor a Metaspace step: this kind of BPE tokenizer is not supported");
        if (loader.byte_level && loader.spec.byte_fallback) loader.fail("byte-level BPE with byte_fallback is not supported");
        loader.spec.symbols = loader.characters ? BpeSpec::Symbols::Characters : BpeSpec::Symbols::ByteLevel;
    } catch (const json::exception& e) {
        // A field of the wrong JSON type.
        throw FormatError(path, std::string("unexpected value: ") + e.what());
    }
    return std::make_shared<BpeTokenizer>(std::move(loader.spec));
}

}  // namespace scalebits::tokenizer
