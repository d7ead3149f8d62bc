#include "core/analysis/analysis_file.h"

#include <cmath>
#include <tuple>

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "core/io/checksum.h"
#include "core/io/hf_config.h"
#include "core/base/tensor_names.h"
#include "core/io/json_strict.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {

constexpr const char* kMetaKey = "scalebits.analysis";
constexpr const char* kChecksumKey = kChecksumsKey;

std::string hex64(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// Integer fields through io::json_integer: a float such as 1e308 in an integer field is refused
// instead of being converted with undefined behaviour.
std::int64_t int_field(const nlohmann::json& j, const char* key, const std::filesystem::path& path) {
    return io::json_integer<std::int64_t>(j.at(key), path, std::string("field '") + key + "'");
}

// Version 2 stores the model's config as Hugging Face config.json fields (io/hf_config: the family and
// its switches, read back by the same strict reader); version 1 stored the Llama fields under names
// of its own.
model::ModelConfig config_from(const nlohmann::json& j, int version, const std::filesystem::path& path) {
    if (version >= 2) return io::hf_config_from_json(j, path);
    model::ModelConfig c;
    if (j.at("architecture").get<std::string>() != "llama")
        throw FormatError(path, "field 'architecture' of a version 1 analysis must be \"llama\"");
    c.dim = int_field(j, "hidden_size", path);
    c.hidden_dim = int_field(j, "intermediate_size", path);
    c.n_layers = int_field(j, "num_hidden_layers", path);
    c.n_heads = int_field(j, "num_attention_heads", path);
    c.n_kv_heads = int_field(j, "num_key_value_heads", path);
    c.head_dim = int_field(j, "head_dim", path);
    c.vocab_size = int_field(j, "vocab_size", path);
    c.max_seq_len = int_field(j, "max_seq_len", path);
    c.rms_norm_eps = j.at("rms_norm_eps").get<double>();
    c.rope_theta = j.at("rope_theta").get<double>();
    c.tie_word_embeddings = j.at("tie_word_embeddings").get<bool>();
    return c;
}

std::vector<int> widths_field(const nlohmann::json& j, const char* key, const std::filesystem::path& path) {
    if (!j.at(key).is_array()) throw FormatError(path, std::string("field '") + key + "' is not a list");
    std::vector<int> out;
    for (const auto& v : j.at(key)) out.push_back(io::json_integer<int>(v, path, std::string("an entry of '") + key + "'"));
    return out;
}

template <typename T>
std::vector<T> values_of(const io::HostTensor& t, io::DType want, const std::filesystem::path& file) {
    if (t.dtype != want) throw FormatError(file, "tensor " + t.name + " has an unexpected dtype");
    std::vector<T> v(t.bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
    return v;
}

// A matrix record against the model it claims to belong to, before anything is sized from it.
// grid_rows, grid_cols: what the file says the tile grid is (it must be the one the shape and tile make).
void check_matrix(const MatrixAnalysis& m, const model::ModelConfig& c, std::int64_t grid_rows, std::int64_t grid_cols,
                  const std::filesystem::path& path) {
    const std::string what = "matrix " + m.name;
    if (m.kind < 0 || m.kind >= kMatrixKinds) throw FormatError(path, what + " has an unknown kind " + std::to_string(m.kind));
    std::int64_t rows = c.vocab_size, cols = c.dim;
    if (is_vocab_kind(m.kind)) {
        if (m.layer != -1) throw FormatError(path, what + " is a vocabulary matrix but names layer " + std::to_string(m.layer));
        if (m.kind == kLmHeadKind && c.tie_word_embeddings)
            throw FormatError(path, what + ": the model's lm_head is tied to its embedding");
    } else {
        if (m.layer < 0 || m.layer >= c.n_layers)
            throw FormatError(path, what + " names layer " + std::to_string(m.layer) + " of a model with " +
                                        std::to_string(c.n_layers) + " layers");
        std::tie(rows, cols) = model::linear_shape(c, static_cast<model::LinearKind>(m.kind));
    }
    if (m.rows() != rows || m.cols() != cols)
        throw FormatError(path, what + " is " + std::to_string(m.rows()) + " x " + std::to_string(m.cols()) +
                                    ", the model's config makes it " + std::to_string(rows) + " x " + std::to_string(cols));
    // rows and cols are now in 1..2^28 (the config's bounds) and the tile sizes are checked before
    // the grid is computed from them, so nothing here can overflow.
    constexpr std::int64_t kMaxTile = std::int64_t(1) << 28;  // the kernels' bound (TileGrid::validate)
    if (m.tile_rows() <= 0 || m.tile_cols() <= 0 || m.tile_rows() > kMaxTile || m.tile_cols() > kMaxTile || m.group() <= 0 ||
        m.tile_cols() % m.group() != 0 ||
        grid_rows != m.grid_rows() || grid_cols != m.grid_cols())
        throw FormatError(path, what + " has an inconsistent tile grid");
}

void add_perm(io::SafetensorsWriter& w, const std::string& name, const std::vector<std::int64_t>& p) {
    if (!p.empty()) w.add_i64(name, {static_cast<std::int64_t>(p.size())}, p);
}

}  // namespace

namespace {
// The stored checksums of `f`; null when the file has none (written before checksums existed).
std::optional<nlohmann::json> stored_checksums(const io::SafetensorsFile& f, const std::filesystem::path& path) {
    const auto it = f.metadata.find(kChecksumKey);
    if (it == f.metadata.end()) return std::nullopt;
    try {
        return nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
        throw FormatError(path, "the checksums are not valid JSON");
    }
}
void check_one(const nlohmann::json& sums, const io::HostTensor& t, const std::filesystem::path& path) {
    const auto s = sums.find(t.name);
    if (s == sums.end() || !s->is_string()) throw FormatError(path, "tensor " + t.name + " has no checksum");
    if (s->get<std::string>() != io::xxh3_64_hex(t.bytes))
        throw FormatError(path, "tensor " + t.name + " does not match its checksum: the file is corrupt");
    // Hashing read every page; they go back at once (an 8B model's file is tens of GB).
    t.release_pages();
}
}  // namespace

bool checked_when_read(const std::string& name) {
    for (const char* prefix : {"hessian.", "cost.group.", "r.", "c."})
        if (name.rfind(prefix, 0) == 0) return true;
    return false;
}

void verify_checksums(const io::SafetensorsFile& f, const std::filesystem::path& path) {
    const auto sums = stored_checksums(f, path);
    if (!sums) return;
    for (const auto& t : f.tensors) check_one(*sums, t, path);
}

void verify_checksum(const io::SafetensorsFile& f, const io::HostTensor& t, const std::filesystem::path& path) {
    if (const auto sums = stored_checksums(f, path)) check_one(*sums, t, path);
}

void save_analysis(const Analysis& a, const std::filesystem::path& path,
                   const std::function<void(io::SafetensorsWriter&)>& extra, const Progress& progress) {
    const std::int64_t nw = static_cast<std::int64_t>(a.widths.size());
    nlohmann::json matrices = nlohmann::json::array();
    io::SafetensorsWriter w;
    for (const auto& m : a.matrices) {
        matrices.push_back({{"name", m.name}, {"layer", m.layer}, {"kind", m.kind}, {"rows", m.rows()}, {"cols", m.cols()},
                            {"tile_rows", m.tile_rows()}, {"tile_cols", m.tile_cols()}, {"group", m.group()},
                            {"grid_rows", m.grid_rows()}, {"grid_cols", m.grid_cols()}, {"fisher_total", m.fisher_total},
                            {"top10_share_before", m.top10_share_before}, {"top10_share_after", m.top10_share_after},
                            {"factored_corr", m.factored_corr}, {"factored_log_corr", m.factored_log_corr}});
        w.add_f64("cost.original." + m.name, {m.tile_count(), nw}, m.cost_original);
        w.add_f64("cost.reordered." + m.name, {m.tile_count(), nw}, m.cost_reordered);
        w.add_f64("fisher.original." + m.name, {m.tile_count()}, m.fisher_original);
        w.add_f64("fisher.reordered." + m.name, {m.tile_count()}, m.fisher_reordered);
    }
    const auto& p = a.permutations;
    add_perm(w, "perm.hidden", p.hidden);
    for (std::size_t l = 0; l < p.ffn.size(); ++l) add_perm(w, "perm.ffn." + std::to_string(l), p.ffn[l]);
    for (std::size_t l = 0; l < p.heads.size(); ++l) add_perm(w, "perm.heads." + std::to_string(l), p.heads[l]);
    for (std::size_t l = 0; l < p.v_dims.size(); ++l) add_perm(w, "perm.v_dims." + std::to_string(l), p.v_dims[l]);
    if (extra) extra(w);
    const auto& o = a.options;
    nlohmann::json j = {
        {"format", "scalebits-analysis"},
        {"format_version", kAnalysisFormatVersion},
        {"model_path", a.model_path.string()},
        {"fingerprint", {{"size", a.fingerprint.size}, {"hash", hex64(a.fingerprint.hash)}}},
        {"config", io::hf_config_to_json(a.config)},
        {"options", {{"calib_text", o.calib_text.empty() ? std::string() : std::filesystem::absolute(o.calib_text).string()}, {"samples", o.samples}, {"seq_len", o.seq_len},
                     {"seed", hex64(o.seed)}, {"tile_rows", o.tile_rows}, {"tile_cols", o.tile_cols},
                     {"group", o.group}, {"widths", o.widths}, {"reorder_heads", o.reorder_heads}, {"device", o.device}}},
        {"widths", a.widths},
        {"calib_loss", a.calib_loss},
        {"seconds", a.seconds},
        {"unquantized_bytes", a.unquantized_bytes},
        {"layers", p.ffn.size()},
        {"matrices", matrices},
    };
    w.set_metadata(kMetaKey, j.dump());
    w.add_checksums(kChecksumKey);
    w.write(path, progress);
}

Analysis load_analysis(const std::filesystem::path& path) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    auto meta = f.metadata.find(kMetaKey);
    if (meta == f.metadata.end()) throw FormatError(path, "not a ScaleBITS analysis file (no '" + std::string(kMetaKey) + "' metadata)");
    std::map<std::string, const io::HostTensor*> tensors;
    for (const auto& t : f.tensors) tensors[t.name] = &t;
    if (const auto sums = stored_checksums(f, path))
        for (const auto& t : f.tensors)
            if (!checked_when_read(t.name)) check_one(*sums, t, path);
    auto tensor = [&](const std::string& name) -> const io::HostTensor& {
        auto it = tensors.find(name);
        if (it == tensors.end()) throw FormatError(path, "the analysis file lacks tensor " + name);
        return *it->second;
    };
    Analysis a;
    a.file = path;
    try {
        const auto j = nlohmann::json::parse(meta->second);
        if (j.at("format").get<std::string>() != "scalebits-analysis") throw FormatError(path, "not a ScaleBITS analysis file");
        a.format_version = io::json_integer<int>(j.at("format_version"), path, "field 'format_version'");
        if (a.format_version < 1 || a.format_version > kAnalysisFormatVersion)
            throw FormatError(path, "analysis format version " + std::to_string(a.format_version) +
                                        " is not supported (this build reads versions 1 to " +
                                        std::to_string(kAnalysisFormatVersion) + "); re-run analyze");
        a.model_path = j.at("model_path").get<std::string>();
        a.fingerprint.size = io::json_integer<std::uint64_t>(j.at("fingerprint").at("size"), path, "the fingerprint size");
        a.fingerprint.hash = std::stoull(j.at("fingerprint").at("hash").get<std::string>(), nullptr, 16);
        a.config = config_from(j.at("config"), a.format_version, path);
        const auto& o = j.at("options");
        a.options.calib_text = o.at("calib_text").get<std::string>();
        a.options.samples = int_field(o, "samples", path);
        a.options.seq_len = int_field(o, "seq_len", path);
        a.options.seed = std::stoull(o.at("seed").get<std::string>(), nullptr, 16);
        a.options.tile_rows = int_field(o, "tile_rows", path);
        a.options.tile_cols = int_field(o, "tile_cols", path);
        a.options.group = int_field(o, "group", path);
        a.options.widths = widths_field(o, "widths", path);
        a.options.reorder_heads = o.at("reorder_heads").get<bool>();
        a.options.device = o.at("device").get<std::string>();
        a.widths = widths_field(j, "widths", path);
        a.calib_loss = j.at("calib_loss").get<double>();
        a.seconds = j.at("seconds").get<double>();
        a.unquantized_bytes = int_field(j, "unquantized_bytes", path);
        a.config.validate(path.string());
        if (a.widths.empty()) throw FormatError(path, "the analysis has no candidate widths");
        for (std::size_t i = 0; i < a.widths.size(); ++i)
            if (a.widths[i] < 2 || a.widths[i] > 8 || (i > 0 && a.widths[i] <= a.widths[i - 1]))
                throw FormatError(path, "the candidate widths are not ascending values in 2..8");
        const std::size_t nw = a.widths.size();
        std::set<std::string> names;
        for (const auto& mj : j.at("matrices")) {
            MatrixAnalysis m;
            m.name = mj.at("name").get<std::string>();
            m.layer = io::json_integer<int>(mj.at("layer"), path, "a matrix's layer");
            m.kind = io::json_integer<int>(mj.at("kind"), path, "a matrix's kind");
            // A size <= 0 reads as 0, which check_matrix rejects.
            m.grid = kernels::TileGrid::of(int_field(mj, "rows", path), int_field(mj, "cols", path),
                                           int_field(mj, "tile_rows", path), int_field(mj, "tile_cols", path),
                                           int_field(mj, "group", path));
            const std::int64_t grid_rows = int_field(mj, "grid_rows", path), grid_cols = int_field(mj, "grid_cols", path);
            m.fisher_total = mj.at("fisher_total").get<double>();
            m.top10_share_before = mj.at("top10_share_before").get<double>();
            m.top10_share_after = mj.at("top10_share_after").get<double>();
            // NaN (undefined, e.g. for the vocabulary matrices) is written as null.
            m.factored_corr = mj.at("factored_corr").is_null() ? std::nan("") : mj.at("factored_corr").get<double>();
            m.factored_log_corr =
                mj.at("factored_log_corr").is_null() ? std::nan("") : mj.at("factored_log_corr").get<double>();
            check_matrix(m, a.config, grid_rows, grid_cols, path);
            if (!names.insert(m.name).second) throw FormatError(path, "matrix " + m.name + " is described twice");
            m.cost_original = values_of<double>(tensor("cost.original." + m.name), io::DType::F64, path);
            m.cost_reordered = values_of<double>(tensor("cost.reordered." + m.name), io::DType::F64, path);
            m.fisher_original = values_of<double>(tensor("fisher.original." + m.name), io::DType::F64, path);
            m.fisher_reordered = values_of<double>(tensor("fisher.reordered." + m.name), io::DType::F64, path);
            const auto tiles = static_cast<std::size_t>(m.tile_count());
            if (m.cost_original.size() != tiles * nw || m.cost_reordered.size() != tiles * nw ||
                m.fisher_original.size() != tiles || m.fisher_reordered.size() != tiles)
                throw FormatError(path, "the tables of " + m.name + " do not match its tile grid");
            a.matrices.push_back(std::move(m));
        }
        // Permutations are stored for every layer or for none (an analysis without reordering).
        const auto layers = int_field(j, "layers", path);
        if (layers != 0 && layers != a.config.n_layers)
            throw FormatError(path, "permutations for " + std::to_string(layers) + " layers in a model of " +
                                        std::to_string(a.config.n_layers));
        auto perm = [&](const std::string& name) {
            auto it = tensors.find(name);
            return it == tensors.end() ? std::vector<std::int64_t>{}
                                       : values_of<std::int64_t>(*it->second, io::DType::I64, path);
        };
        a.permutations.hidden = perm("perm.hidden");
        for (std::int64_t l = 0; l < layers; ++l) {
            a.permutations.ffn.push_back(perm("perm.ffn." + std::to_string(l)));
            a.permutations.heads.push_back(perm("perm.heads." + std::to_string(l)));
            a.permutations.v_dims.push_back(perm("perm.v_dims." + std::to_string(l)));
        }
        auto all_empty = [](const std::vector<std::vector<std::int64_t>>& v) {
            for (const auto& x : v)
                if (!x.empty()) return false;
            return true;
        };
        if (all_empty(a.permutations.heads)) a.permutations.heads.clear();
        if (all_empty(a.permutations.v_dims)) a.permutations.v_dims.clear();
        try {
            reorder::validate(a.permutations, a.config);
        } catch (const InputError& e) {
            throw FormatError(path, e.problem());
        }
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("malformed analysis description: ") + e.what());
    } catch (const std::invalid_argument&) {
        throw FormatError(path, "malformed hexadecimal value in the analysis description");
    } catch (const std::out_of_range&) {
        throw FormatError(path, "out-of-range value in the analysis description");
    }
    return a;
}

io::HostTensor read_analysis_tensor(const std::filesystem::path& path, const std::string& name) {
    io::SafetensorsFile f = io::read_safetensors(path);
    for (auto& t : f.tensors)
        if (t.name == name) return std::move(t);
    throw InputError(path, "the analysis file has no tensor " + name);
}

bool analysis_has_tensor(const std::filesystem::path& path, const std::string& name) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    for (const auto& t : f.tensors)
        if (t.name == name) return true;
    return false;
}

void check_model_matches(const Analysis& a, const std::filesystem::path& model_path) {
    const ModelFingerprint fp = fingerprint_model(model_path);
    if (!(fp == a.fingerprint))
        throw InputError(model_path, "does not match the analysis " + a.file.string() + ", which was made from " +
                                         a.model_path.string() + " (size " + std::to_string(a.fingerprint.size) +
                                         ", this file has " + std::to_string(fp.size) + " bytes" +
                                         (fp.size == a.fingerprint.size ? ", different contents" : "") +
                                         "); re-run analyze for this model");
}

}  // namespace scalebits::analysis
