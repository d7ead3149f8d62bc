#include "core/model/synthetic_model.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/io/atomic_file.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors_writer.h"
#include "core/base/tensor_names.h"
#include "core/util/error.h"

namespace scalebits::model {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Uniform in [-1, 1), a pure function of (stream, index): any piece can be generated on its own.
float uniform(std::uint64_t stream, std::uint64_t index) {
    return static_cast<float>(static_cast<double>(splitmix64(stream ^ splitmix64(index)) >> 11) * 0x1.0p-52 - 1.0);
}

std::uint16_t to_bf16(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    b += 0x7FFF + ((b >> 16) & 1);  // round to nearest even (values are finite)
    return static_cast<std::uint16_t>(b >> 16);
}

// Value i of tensor t (row-major, `cols` values a row).
struct TensorValues {
    TensorSpec::Role role;
    std::uint64_t stream;
    std::int64_t cols;
    float value(std::uint64_t i) const {
        using Role = TensorSpec::Role;
        switch (role) {
            case Role::FinalNorm:
            case Role::AttnNorm:
            case Role::FfnNorm:
            case Role::QNorm:
            case Role::KNorm: return 1.0f;
            case Role::LinearBias: return 0.01f * uniform(stream, i);
            case Role::Embedding: return std::sqrt(3.0f) * uniform(stream, i);
            case Role::LmHead:
            case Role::LinearWeight: {
                // A log-normal factor per input column (sigma 0.5), normalized to keep the std.
                const auto col = i % static_cast<std::uint64_t>(cols);
                const float z = uniform(stream + 1, col) + uniform(stream + 2, col) + uniform(stream + 3, col);  // ~N(0, 1)
                const float scale = std::exp(0.5f * z - 0.125f);
                return scale * std::sqrt(3.0f / static_cast<float>(cols)) * uniform(stream, i);
            }
        }
        return 0.0f;
    }
};

}  // namespace

SyntheticModelInfo write_synthetic_model(const SyntheticModelOptions& o, const std::filesystem::path& folder,
                                         const Progress& progress) {
    o.config.validate("the synthetic model's config");
    if (o.dtype != "BF16" && o.dtype != "F32") throw InputError("synthetic models are BF16 or F32, not " + o.dtype);
    const std::int64_t elem = o.dtype == "BF16" ? 2 : 4;
    std::filesystem::create_directories(folder);
    io::SafetensorsWriter w;
    SyntheticModelInfo info;
    std::uint64_t index = 0;
    for (const TensorSpec& t : canonical_tensors(o.config)) {
        std::uint64_t n = 1;
        for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
        info.parameters += n;
        const TensorValues values{t.role, splitmix64(o.seed * 0x100000001B3ull + ++index) * 4, t.shape.back()};
        w.add_generated(t.name, o.dtype, t.shape, [values, elem](std::uint64_t offset, std::span<std::uint8_t> out) {
            const std::uint64_t first = offset / static_cast<std::uint64_t>(elem);
            const std::size_t count = out.size() / static_cast<std::size_t>(elem);
            for (std::size_t k = 0; k < count; ++k) {
                const float v = values.value(first + k);
                if (elem == 2) {
                    const std::uint16_t b = to_bf16(v);
                    std::memcpy(out.data() + 2 * k, &b, 2);
                } else {
                    std::memcpy(out.data() + 4 * k, &v, 4);
                }
            }
        });
    }
    auto config = io::hf_config_to_json(o.config);
    config["torch_dtype"] = o.dtype == "BF16" ? "bfloat16" : "float32";
    io::write_file_atomic(folder / "config.json", config.dump(2) + "\n");
    if (!o.tokenizer_json.empty()) {
        std::ifstream in(o.tokenizer_json, std::ios::binary);
        if (!in) throw InputError(o.tokenizer_json, "cannot read the tokenizer to copy");
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        io::write_file_atomic(folder / "tokenizer.json", text);
    }
    w.write(folder / "model.safetensors", progress);
    info.bytes = std::filesystem::file_size(folder / "model.safetensors");
    return info;
}

}  // namespace scalebits::model
