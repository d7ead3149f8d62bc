// llama2.c checkpoints (no magic: header checks and the exact size) and tokenizer.bin files, and the
// format dispatcher that decides from a .bin file's first bytes which loader it needs.
#include "core/io/checkpoint_format.h"
#include "core/io/llama2c.h"
#include "core/tokenizer/factory.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = scalebits::fuzz::scratch("model.bin");
    scalebits::fuzz::write(path, data, size);
    scalebits::fuzz::expect_typed_errors([&] { (void)scalebits::io::detect_checkpoint_format(path); });
    scalebits::fuzz::expect_typed_errors([&] { (void)scalebits::io::read_llama2c(path); });
    scalebits::fuzz::expect_typed_errors([&] {
        const auto tok = scalebits::tokenizer::load_llama2c_tokenizer(path, 64);
        (void)tok->encode("Once upon a time", true);
    });
    return 0;
}
