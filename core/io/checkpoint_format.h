#pragma once
// Which loader a model path needs, decided from the folder's files or the file's first bytes and
// extension (no LibTorch, so it is fuzzed with the parsers). PyTorch pickles are refused here, before
// any loader sees them: they can run arbitrary code.
#include <filesystem>

namespace scalebits::io {

enum class CheckpointFormat {
    PackedExport,  // a folder this tool exported (config.json with its quantization_config)
    Safetensors,   // a Hugging Face folder, or a .safetensors file with config.json beside it
    Gguf,
    Llama2c,       // a llama2.c .bin whose header implies exactly the file's size
};

// Throws InputError naming the path for a missing path, a pickle, or a format it does not know.
CheckpointFormat detect_checkpoint_format(const std::filesystem::path& path);

}  // namespace scalebits::io
