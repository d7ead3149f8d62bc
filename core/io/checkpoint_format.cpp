#include "core/io/checkpoint_format.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/io/llama2c.h"
#include "core/io/packed_export.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> head_bytes(const fs::path& p, std::size_t n) {
    std::vector<std::uint8_t> b(n);
    std::ifstream in(p, std::ios::binary);
    if (!in) throw InputError(p, "cannot open");
    in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(n));
    b.resize(static_cast<std::size_t>(in.gcount()));
    if (b.size() < 8) b.resize(8, 0);
    return b;
}

bool is_pickle(const std::vector<std::uint8_t>& b) {
    const bool zip = b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;  // torch.save since 1.6
    const bool legacy = b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;               // pickle protocol 2..5
    return zip || legacy;
}

[[noreturn]] void refuse_pickle(const fs::path& p) {
    throw InputError(p, "is a PyTorch pickle checkpoint; pickles can run arbitrary code and are not loaded. "
                        "Convert it to safetensors (e.g. save_pretrained(..., safe_serialization=True)) and open the folder");
}

}  // namespace

CheckpointFormat detect_checkpoint_format(const fs::path& path) {
    if (!fs::exists(path)) throw InputError(path, "no such file or folder");
    if (fs::is_directory(path)) {
        if (is_packed_export(path)) return CheckpointFormat::PackedExport;
        if (fs::exists(path / "model.safetensors") || fs::exists(path / "model.safetensors.index.json"))
            return CheckpointFormat::Safetensors;
        for (const char* name : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth"})
            if (fs::exists(path / name)) refuse_pickle(path / name);
        throw InputError(path, "folder holds no model.safetensors or model.safetensors.index.json");
    }
    const auto head = head_bytes(path, kLlama2cHeaderBytes);
    const std::string ext = path.extension().string();
    if (std::memcmp(head.data(), "GGUF", 4) == 0) return CheckpointFormat::Gguf;
    if (is_pickle(head)) refuse_pickle(path);
    if (ext == ".safetensors") return CheckpointFormat::Safetensors;
    if (ext == ".bin") {
        // llama2.c has no magic: accept it only when the header implies exactly this file size.
        const auto h = llama2c_header(head);
        if (!h || llama2c_expected_size(*h) != static_cast<std::int64_t>(fs::file_size(path)))
            throw InputError(path, ".bin file is neither a llama2.c checkpoint (its size does not match the header) nor a "
                                   "recognized format");
        return CheckpointFormat::Llama2c;
    }
    if (ext == ".pt" || ext == ".pth" || ext == ".ckpt") refuse_pickle(path);
    throw InputError(path, "unrecognized checkpoint format (expected GGUF, safetensors or llama2.c .bin)");
}

}  // namespace scalebits::io
