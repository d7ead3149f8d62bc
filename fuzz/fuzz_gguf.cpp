// GGUF metadata, tensor table and the Llama mapping, then the tokenizer built from its vocabulary.
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/tokenizer/factory.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    scalebits::fuzz::expect_typed_errors([&] {
        const auto f = scalebits::io::parse_gguf({data, size}, nullptr, "fuzz.gguf");
        if (auto vocab = scalebits::io::gguf_vocab(f)) {
            const auto tok = scalebits::tokenizer::make_gguf_tokenizer(*vocab, "fuzz.gguf");
            (void)tok->encode("Hello, world! 123 \xc3\xa9\xe4\xb8\xad", true);
        }
        (void)scalebits::io::gguf_to_llama(f);
    });
    return 0;
}
