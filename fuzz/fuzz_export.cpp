// The export format's model.safetensors beside a valid config.json: checksums, packed matrix
// tables (grid, width map, tile offsets) and the kernels' structural validation.
#include "core/io/packed_export.h"
#include "fuzz_common.h"

namespace {
// stories260K's shape, so the seed (a real export of it) passes the config checks.
const char* kConfig = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,
"intermediate_size":172,"num_hidden_layers":5,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":512,
"max_position_embeddings":512,"rms_norm_eps":1e-5,"tie_word_embeddings":true,
"quantization_config":{"quant_method":"scalebits","format_version":1}})";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto dir = scalebits::fuzz::scratch("export");
    static const bool once = [&] {
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "config.json") << kConfig;
        return true;
    }();
    (void)once;
    scalebits::fuzz::write(dir / "model.safetensors", data, size);
    scalebits::fuzz::expect_typed_errors([&] { (void)scalebits::io::read_packed_export(dir); });
    return 0;
}
