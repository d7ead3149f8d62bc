// safetensors headers and data layout (the reader every model, analysis and export goes through).
#include "core/io/safetensors.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    scalebits::fuzz::expect_typed_errors([&] {
        const auto f = scalebits::io::parse_safetensors({data, size}, nullptr, "fuzz.safetensors");
        for (const auto& t : f.tensors)
            if (t.numel() <= (1 << 16)) (void)t.to_float();
    });
    return 0;
}
