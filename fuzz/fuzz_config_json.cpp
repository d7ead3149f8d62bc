// Hugging Face config.json: strict JSON (depth, duplicates, UTF-8) and the Llama field checks.
#include "core/io/hf_config.h"
#include "core/io/json_strict.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    scalebits::fuzz::expect_typed_errors([&] {
        const auto j = scalebits::io::parse_json_strict(
            std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
        (void)scalebits::io::hf_config_from_json(j, "config.json");
    });
    return 0;
}
