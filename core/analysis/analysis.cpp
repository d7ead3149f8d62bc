#include "core/analysis/analysis.h"

#include <algorithm>
#include <functional>
#include <cstring>
#include <numeric>

#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {
// A fast 64-bit hash of a byte range (8-byte lanes mixed with a multiply-xorshift); not
// cryptographic, it only tells whether an analysis belongs to a model file.
// Lanes of 8 bytes mixed into h with a multiply-xorshift.
std::uint64_t hash_lanes(std::span<const std::uint8_t> bytes, std::uint64_t h) {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t v;
        std::memcpy(&v, bytes.data() + i, 8);
        h = (h ^ (v * k)) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}

// A fast 64-bit hash of a mapped file's bytes (not cryptographic, it only tells whether an analysis
// belongs to a model file), read in 64 MiB pieces whose pages are released after use, so hashing a
// model larger than memory keeps one piece resident.
std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t h) {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    constexpr std::size_t kPiece = std::size_t(64) << 20;  // a multiple of 8: pieces hash as one range
    const std::size_t lanes = bytes.size() / 8 * 8;
    for (std::size_t at = 0; at < lanes; at += kPiece) {
        const auto piece = bytes.subspan(at, std::min(kPiece, lanes - at));
        h = hash_lanes(piece, h);
        io::MappedFile::release(piece);
    }
    for (std::size_t i = lanes; i < bytes.size(); ++i) h = (h ^ bytes[i]) * k;
    return h ^ bytes.size();
}
}  // namespace

ModelFingerprint fingerprint_model(const std::filesystem::path& model_path) {
    ModelFingerprint fp;
    std::uint64_t h = 0x5CA1EB175ull;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(model_path)) {
        for (const auto& e : std::filesystem::directory_iterator(model_path))
            if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(model_path);
    }
    for (const auto& f : files) {
        auto map = io::MappedFile::open(f);
        fp.size += map->size();
        h = hash_bytes(map->bytes(), h);
    }
    fp.hash = h;
    return fp;
}

std::int64_t Analysis::total_tiles() const {
    std::int64_t n = 0;
    for (const auto& m : matrices) n += m.tile_count();
    return n;
}

std::int64_t Analysis::total_weights() const {
    std::int64_t n = 0;
    for (const auto& m : matrices) n += m.weights();
    return n;
}

const MatrixAnalysis& Analysis::matrix(const std::string& name) const {
    for (const auto& m : matrices)
        if (m.name == name) return m;
    throw InputError(file, "the analysis has no matrix named " + name);
}

const char* matrix_kind_name(int kind) {
    static const char* const kNames[kMatrixKinds] = {"q_proj",    "k_proj",  "v_proj",       "o_proj", "gate_proj",
                                                     "up_proj",   "down_proj", "embed_tokens", "lm_head"};
    return kind >= 0 && kind < kMatrixKinds ? kNames[kind] : "?";
}

double top_share(const std::vector<double>& mass, double fraction) {
    if (mass.empty()) return 0.0;
    std::vector<double> v(mass);
    const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(fraction * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end(), std::greater<double>());
    const double total = std::accumulate(v.begin(), v.end(), 0.0);
    if (!(total > 0.0)) return 0.0;
    return std::accumulate(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), 0.0) / total;
}

}  // namespace scalebits::analysis
