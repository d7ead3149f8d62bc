#include "core/analysis/analysis_file.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "core/io/checksum.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {

constexpr const char* kMetaKey = "scalebits.analysis";
constexpr const char* kChecksumKey = "scalebits.checksums";

std::string hex64(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

nlohmann::json config_json(const model::ModelConfig& c) {
    return {{"architecture", c.architecture}, {"hidden_size", c.dim},          {"intermediate_size", c.hidden_dim},
            {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads},
            {"head_dim", c.head_dim},          {"vocab_size", c.vocab_size},     {"max_seq_len", c.max_seq_len},
            {"rms_norm_eps", c.rms_norm_eps},  {"rope_theta", c.rope_theta},     {"tie_word_embeddings", c.tie_word_embeddings}};
}

model::ModelConfig config_from(const nlohmann::json& j) {
    model::ModelConfig c;
    c.architecture = j.at("architecture").get<std::string>();
    c.dim = j.at("hidden_size").get<std::int64_t>();
    c.hidden_dim = j.at("intermediate_size").get<std::int64_t>();
    c.n_layers = j.at("num_hidden_layers").get<std::int64_t>();
    c.n_heads = j.at("num_attention_heads").get<std::int64_t>();
    c.n_kv_heads = j.at("num_key_value_heads").get<std::int64_t>();
    c.head_dim = j.at("head_dim").get<std::int64_t>();
    c.vocab_size = j.at("vocab_size").get<std::int64_t>();
    c.max_seq_len = j.at("max_seq_len").get<std::int64_t>();
    c.rms_norm_eps = j.at("rms_norm_eps").get<double>();
    c.rope_theta = j.at("rope_theta").get<double>();
    c.tie_word_embeddings = j.at("tie_word_embeddings").get<bool>();
    return c;
}

template <typename T>
std::vector<T> values_of(const io::HostTensor& t, io::DType want, const std::filesystem::path& file) {
    if (t.dtype != want) throw FormatError(file, "tensor " + t.name + " has an unexpected dtype");
    std::vector<T> v(t.bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
    return v;
}

// The weight shape {rows, cols} of matrix kind `kind` (model::LinearKind order: q k v o gate up
// down) in a model of config `c`.
std::pair<std::int64_t, std::int64_t> expected_shape(const model::ModelConfig& c, int kind) {
    const std::int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
    switch (kind) {
        case 0: return {q, c.dim};
        case 1:
        case 2: return {kv, c.dim};
        case 3: return {c.dim, q};
        case 4:
        case 5: return {c.hidden_dim, c.dim};
        default: return {c.dim, c.hidden_dim};
    }
}

// A matrix record against the model it claims to belong to, before anything is sized from it.
void check_matrix(const MatrixAnalysis& m, const model::ModelConfig& c, const std::filesystem::path& path) {
    const std::string what = "matrix " + m.name;
    if (m.kind < 0 || m.kind > 6) throw FormatError(path, what + " has an unknown kind " + std::to_string(m.kind));
    if (m.layer < 0 || m.layer >= c.n_layers)
        throw FormatError(path, what + " names layer " + std::to_string(m.layer) + " of a model with " +
                                    std::to_string(c.n_layers) + " layers");
    const auto [rows, cols] = expected_shape(c, m.kind);
    if (m.rows != rows || m.cols != cols)
        throw FormatError(path, what + " is " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                                    ", the model's config makes it " + std::to_string(rows) + " x " + std::to_string(cols));
    // rows and cols are now at most 2^28 (the config's bounds), so nothing below can overflow.
    if (m.tile_rows <= 0 || m.tile_cols <= 0 || m.group <= 0 || m.group > m.tile_cols ||
        m.grid_rows != (m.rows + m.tile_rows - 1) / m.tile_rows || m.grid_cols != (m.cols + m.tile_cols - 1) / m.tile_cols)
        throw FormatError(path, what + " has an inconsistent tile grid");
}

void add_perm(io::SafetensorsWriter& w, const std::string& name, const std::vector<std::int64_t>& p) {
    if (!p.empty()) w.add_i64(name, {static_cast<std::int64_t>(p.size())}, p);
}

}  // namespace

namespace {
// Every tensor against the checksums the writer stored (files written before checksums existed
// have none and are read as they are).
void verify_checksums(const io::SafetensorsFile& f, const std::filesystem::path& path) {
    const auto it = f.metadata.find(kChecksumKey);
    if (it == f.metadata.end()) return;
    nlohmann::json sums;
    try {
        sums = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
        throw FormatError(path, "the analysis file's checksums are not valid JSON");
    }
    for (const auto& t : f.tensors) {
        const auto s = sums.find(t.name);
        if (s == sums.end() || !s->is_string()) throw FormatError(path, "tensor " + t.name + " has no checksum");
        if (s->get<std::string>() != io::xxh3_64_hex(t.bytes))
            throw FormatError(path, "tensor " + t.name + " does not match its checksum: the file is corrupt");
    }
}
}  // namespace

void save_analysis(const Analysis& a, const std::filesystem::path& path,
                   const std::function<void(io::SafetensorsWriter&)>& extra) {
    const std::int64_t nw = static_cast<std::int64_t>(a.widths.size());
    nlohmann::json matrices = nlohmann::json::array();
    io::SafetensorsWriter w;
    for (const auto& m : a.matrices) {
        matrices.push_back({{"name", m.name}, {"layer", m.layer}, {"kind", m.kind}, {"rows", m.rows}, {"cols", m.cols},
                            {"tile_rows", m.tile_rows}, {"tile_cols", m.tile_cols}, {"group", m.group},
                            {"grid_rows", m.grid_rows}, {"grid_cols", m.grid_cols}, {"fisher_total", m.fisher_total},
                            {"top10_share_before", m.top10_share_before}, {"top10_share_after", m.top10_share_after},
                            {"factored_corr", m.factored_corr}, {"factored_log_corr", m.factored_log_corr}});
        w.add_f64("cost.original." + m.name, {m.tiles(), nw}, m.cost_original);
        w.add_f64("cost.reordered." + m.name, {m.tiles(), nw}, m.cost_reordered);
        w.add_f64("fisher.original." + m.name, {m.tiles()}, m.fisher_original);
        w.add_f64("fisher.reordered." + m.name, {m.tiles()}, m.fisher_reordered);
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
        {"config", config_json(a.config)},
        {"options", {{"calib_text", o.calib_text.string()}, {"samples", o.samples}, {"seq_len", o.seq_len},
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
    w.write(path);
}

Analysis load_analysis(const std::filesystem::path& path) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    auto meta = f.metadata.find(kMetaKey);
    if (meta == f.metadata.end()) throw FormatError(path, "not a ScaleBITS analysis file (no '" + std::string(kMetaKey) + "' metadata)");
    std::map<std::string, const io::HostTensor*> tensors;
    for (const auto& t : f.tensors) tensors[t.name] = &t;
    verify_checksums(f, path);
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
        a.format_version = j.at("format_version").get<int>();
        if (a.format_version != kAnalysisFormatVersion)
            throw FormatError(path, "analysis format version " + std::to_string(a.format_version) +
                                        " is not supported (this build reads version " +
                                        std::to_string(kAnalysisFormatVersion) + "); re-run analyze");
        a.model_path = j.at("model_path").get<std::string>();
        a.fingerprint.size = j.at("fingerprint").at("size").get<std::uint64_t>();
        a.fingerprint.hash = std::stoull(j.at("fingerprint").at("hash").get<std::string>(), nullptr, 16);
        a.config = config_from(j.at("config"));
        const auto& o = j.at("options");
        a.options.calib_text = o.at("calib_text").get<std::string>();
        a.options.samples = o.at("samples").get<std::int64_t>();
        a.options.seq_len = o.at("seq_len").get<std::int64_t>();
        a.options.seed = std::stoull(o.at("seed").get<std::string>(), nullptr, 16);
        a.options.tile_rows = o.at("tile_rows").get<std::int64_t>();
        a.options.tile_cols = o.at("tile_cols").get<std::int64_t>();
        a.options.group = o.at("group").get<std::int64_t>();
        a.options.widths = o.at("widths").get<std::vector<int>>();
        a.options.reorder_heads = o.at("reorder_heads").get<bool>();
        a.options.device = o.at("device").get<std::string>();
        a.widths = j.at("widths").get<std::vector<int>>();
        a.calib_loss = j.at("calib_loss").get<double>();
        a.seconds = j.at("seconds").get<double>();
        a.unquantized_bytes = j.at("unquantized_bytes").get<std::int64_t>();
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
            m.layer = mj.at("layer").get<int>();
            m.kind = mj.at("kind").get<int>();
            m.rows = mj.at("rows").get<std::int64_t>();
            m.cols = mj.at("cols").get<std::int64_t>();
            m.tile_rows = mj.at("tile_rows").get<std::int64_t>();
            m.tile_cols = mj.at("tile_cols").get<std::int64_t>();
            m.group = mj.at("group").get<std::int64_t>();
            m.grid_rows = mj.at("grid_rows").get<std::int64_t>();
            m.grid_cols = mj.at("grid_cols").get<std::int64_t>();
            m.fisher_total = mj.at("fisher_total").get<double>();
            m.top10_share_before = mj.at("top10_share_before").get<double>();
            m.top10_share_after = mj.at("top10_share_after").get<double>();
            m.factored_corr = mj.at("factored_corr").get<double>();
            m.factored_log_corr = mj.at("factored_log_corr").get<double>();
            check_matrix(m, a.config, path);
            if (!names.insert(m.name).second) throw FormatError(path, "matrix " + m.name + " is described twice");
            m.cost_original = values_of<double>(tensor("cost.original." + m.name), io::DType::F64, path);
            m.cost_reordered = values_of<double>(tensor("cost.reordered." + m.name), io::DType::F64, path);
            m.fisher_original = values_of<double>(tensor("fisher.original." + m.name), io::DType::F64, path);
            m.fisher_reordered = values_of<double>(tensor("fisher.reordered." + m.name), io::DType::F64, path);
            const auto tiles = static_cast<std::size_t>(m.tiles());
            if (m.cost_original.size() != tiles * nw || m.cost_reordered.size() != tiles * nw ||
                m.fisher_original.size() != tiles || m.fisher_reordered.size() != tiles)
                throw FormatError(path, "the tables of " + m.name + " do not match its tile grid");
            a.matrices.push_back(std::move(m));
        }
        // Permutations are stored for every layer or for none (an analysis without reordering).
        const auto layers = j.at("layers").get<std::int64_t>();
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
