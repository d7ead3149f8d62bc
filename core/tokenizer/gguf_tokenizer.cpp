// Builds the tokenizer a GGUF file describes (tokenizer.ggml.* metadata, gathered by core/io).
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/factory.h"
#include "core/tokenizer/spm_tokenizer.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

std::shared_ptr<const Tokenizer> make_gguf_tokenizer(const GgufVocab& vocab, const std::string& source) {
    const std::size_t n = vocab.tokens.size();
    if (n == 0) throw FormatError(source, "tokenizer.ggml.tokens is empty");
    if (!vocab.token_types.empty() && vocab.token_types.size() != n)
        throw FormatError(source, "tokenizer.ggml.token_type has " + std::to_string(vocab.token_types.size()) +
                                      " entries for " + std::to_string(n) + " tokens");
    if (vocab.model == "gpt2") {
        BpeSpec spec;
        spec.source = source;
        spec.tokens = vocab.tokens;
        spec.merges = vocab.merges;
        if (spec.merges.empty()) throw FormatError(source, "tokenizer.ggml.merges is missing for a gpt2 vocabulary");
        for (std::size_t i = 0; i < vocab.token_types.size(); ++i) {
            const auto type = static_cast<TokenType>(vocab.token_types[i]);
            if (type == TokenType::Control || type == TokenType::UserDefined)
                spec.special_ids.push_back(static_cast<std::int32_t>(i));
        }
        GgufPreTokenizer pre = make_gguf_pretokenizer(vocab.pre, source);
        spec.ignore_merges = pre.spec.ignore_merges;
        spec.nfc = pre.spec.nfc;
        spec.pre = std::move(pre.pre);
        spec.bos_id = vocab.bos_id;
        spec.eos_id = vocab.eos_id;
        spec.add_bos = vocab.add_bos;
        // Byte-level vocabularies cover every byte by construction; GGUF files still name an
        // "unknown" id (SmolLM2: <|endoftext|>), which Hugging Face never emits for them.
        spec.unk_id = -1;
        return std::make_shared<BpeTokenizer>(std::move(spec));
    }
    if (vocab.model == "llama") {
        if (vocab.scores.empty()) throw FormatError(source, "tokenizer.ggml.scores is missing for a llama vocabulary");
        SpmSpec spec;
        spec.flavor = SpmSpec::Flavor::SentencePiece;
        spec.source = source;
        spec.tokens = vocab.tokens;
        spec.scores = vocab.scores;
        spec.types = vocab.token_types;
        spec.add_space_prefix = vocab.add_space_prefix;
        spec.bos_id = vocab.bos_id;
        spec.eos_id = vocab.eos_id;
        spec.unk_id = vocab.unk_id;
        spec.add_bos = vocab.add_bos;
        return std::make_shared<SpmTokenizer>(std::move(spec));
    }
    throw FormatError(source, "tokenizer model \"" + vocab.model +
                                  "\" is not supported (only gpt2 byte-level BPE and llama SentencePiece)");
}

}  // namespace scalebits::tokenizer
