#include "core/analysis/work_folder.h"

#include <torch/torch.h>

#include <cstring>
#include <memory>

#include "core/analysis/analysis_file.h"
#include "core/analysis/matrix_tables.h"
#include "core/io/safetensors_writer.h"
#include "core/util/error.h"

namespace scalebits::analysis::work {

namespace fs = std::filesystem;

fs::path part_path(const fs::path& dir, const std::string& name) { return dir / (name + ".safetensors"); }

void write_part(const fs::path& file, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                const nlohmann::json& meta) {
    io::SafetensorsWriter w;
    for (const auto& [name, t0] : tensors) {
        torch::Tensor t = t0.detach().to(torch::kCPU).contiguous();
        std::string dtype;
        switch (t.scalar_type()) {
            case torch::kFloat: dtype = "F32"; break;
            case torch::kDouble: dtype = "F64"; break;
            case torch::kLong: dtype = "I64"; break;
            case torch::kHalf: dtype = "F16"; break;
            case torch::kByte: dtype = "U8"; break;
            default: throw std::logic_error("work file tensor of an unexpected type");
        }
        auto keep = std::make_shared<torch::Tensor>(t);
        w.add(name, dtype, t.sizes().vec(),
              {static_cast<const std::uint8_t*>(t.data_ptr()), static_cast<std::size_t>(t.nbytes())}, keep);
    }
    if (!meta.is_null()) w.set_metadata("scalebits.part", meta.dump());
    w.add_checksums(kChecksumsKey);
    w.write(file);
}

std::optional<io::SafetensorsFile> read_part(const fs::path& dir, const std::string& name) {
    const fs::path file = part_path(dir, name);
    if (!fs::exists(file)) return std::nullopt;
    try {
        io::SafetensorsFile f = io::read_safetensors(file);
        verify_checksums(f, file);
        // Checking read every byte; the pages go back (the tensors are read again where they are
        // used, and released after that too).
        for (const auto& t : f.tensors) t.release_pages();
        return f;
    } catch (const InputError&) {
        fs::remove(file);
        return std::nullopt;
    }
}

const io::HostTensor& part_tensor(const io::SafetensorsFile& f, const std::string& name, const fs::path& file) {
    const io::HostTensor* t = f.find(name);
    if (!t) throw FormatError(file, "work file has no tensor " + name);
    return *t;
}

torch::Tensor part_torch(const io::SafetensorsFile& f, const std::string& name, const std::vector<std::int64_t>& shape,
                         const fs::path& file) {
    const io::HostTensor& t = part_tensor(f, name, file);
    if (t.shape != shape) throw FormatError(file, "work file tensor " + name + " has another shape than expected");
    torch::Tensor out;
    if (t.dtype == io::DType::F64) {
        out = torch::empty(shape, torch::kDouble);
    } else if (t.dtype == io::DType::F32) {
        out = torch::empty(shape, torch::kFloat);
    } else {
        throw FormatError(file, "work file tensor " + name + " has an unexpected dtype");
    }
    if (static_cast<std::size_t>(out.nbytes()) != t.bytes.size())
        throw FormatError(file, "work file tensor " + name + " has the wrong size");
    std::memcpy(out.data_ptr(), t.bytes.data(), t.bytes.size());
    t.release_pages();
    return out;
}

std::vector<double> part_doubles(const io::SafetensorsFile& f, const std::string& name, std::int64_t n,
                                 const fs::path& file) {
    return to_doubles(part_torch(f, name, {n}, file));
}

std::uint64_t folder_bytes(const fs::path& dir) {
    std::uint64_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file(ec)) n += e.file_size(ec);
    return n;
}

}  // namespace scalebits::analysis::work
