// Hugging Face tokenizer.json (byte-level BPE, its pre-tokenizer and added tokens), then encoding.
#include "core/tokenizer/factory.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = scalebits::fuzz::scratch("tokenizer.json");
    scalebits::fuzz::write(path, data, size);
    scalebits::fuzz::expect_typed_errors([&] {
        const auto tok = scalebits::tokenizer::load_tokenizer_json(path);
        (void)tok->encode("Hello, world! It's 2026.  \t\xf0\x9f\x98\x80", true);
    });
    return 0;
}
