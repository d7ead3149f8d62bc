#include "core/analysis/streamed_analyze.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>

#include "core/analysis/analysis_file.h"
#include "core/analysis/analyze.h"
#include "core/analysis/matrix_tables.h"
#include "core/analysis/vocab_tables.h"
#include "core/analysis/work_folder.h"
#include "core/calib/calib_set.h"
#include "core/calib/layer_sensitivity.h"
#include "core/analysis/export_size.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "core/model/llama.h"
#include "core/model/model_ends.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace fs = std::filesystem;
using model::LinearKind;
using model::kLinearKinds;
using work::folder_bytes;
using work::part_doubles;
using work::part_path;
using work::part_tensor;
using work::part_torch;
using work::read_part;
using work::write_part;

std::uint64_t available_memory_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

namespace {

using clock = std::chrono::steady_clock;
double since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

// Version of the work folder's layout; a folder of another version is not resumed.
constexpr int kWorkVersion = 2;  // 2: the head's log-sum-exp and the vocabulary matrices' pieces

std::string layer_part(char pass, int layer) { return std::string(1, pass) + "." + std::to_string(layer); }
std::string vocab_part(int kind) { return "v." + std::to_string(kind); }

// What the work folder was made for: a folder made for another model or other options is never resumed.
nlohmann::json manifest_of(const Analysis& a) {
    const auto& o = a.options;
    return {{"work_version", kWorkVersion},
            {"model_size", a.fingerprint.size},
            {"model_hash", a.fingerprint.hash},
            {"config", io::hf_config_to_json(a.config)},
            {"calib_text", fs::absolute(o.calib_text).string()},
            {"samples", o.samples},
            {"seq_len", o.seq_len},
            {"seed", o.seed},
            {"tile", {o.tile_rows, o.tile_cols}},
            {"group", o.group},
            {"widths", a.widths},
            {"reorder_heads", o.reorder_heads},
            {"device", o.device}};
}

void prepare_work_dir(const fs::path& dir, const nlohmann::json& manifest, bool resume) {
    const fs::path file = dir / "manifest.json";
    if (resume && fs::exists(file)) {
        nlohmann::json old;
        try {
            std::ifstream in(file);
            old = nlohmann::json::parse(in);
        } catch (const std::exception&) {
            throw InputError(file, "the unfinished analysis's manifest is not valid JSON; remove the folder to start over");
        }
        if (old != manifest)
            throw InputError(dir, "the unfinished analysis here was made for another model or other options; "
                                  "remove the folder or run without resuming");
        return;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    std::ofstream out(dir / "manifest.json.tmp");
    out << manifest.dump(1) << "\n";
    out.close();
    if (!out) throw InputError(dir, "cannot write the work folder's manifest");
    fs::rename(dir / "manifest.json.tmp", file);
}

// ---- boundary activations h_0 .. h_L ----------------------------------------------------------

class Boundaries {
public:
    Boundaries(fs::path dir, bool on_disk) : dir_(std::move(dir)), on_disk_(on_disk) {}
    void put(int b, const torch::Tensor& h) {
        if (on_disk_) {
            write_part(part_path(dir_, name(b)), {{"h", h}});
        } else {
            ram_[b] = h;
        }
    }
    bool has(int b) const { return on_disk_ ? fs::exists(part_path(dir_, name(b))) : ram_.count(b) != 0; }
    torch::Tensor get(int b, const std::vector<std::int64_t>& shape) const {
        if (!on_disk_) return ram_.at(b);
        const auto f = read_part(dir_, name(b));
        if (!f) throw FormatError(part_path(dir_, name(b)), "a boundary activation file is missing or corrupt");
        return part_torch(*f, "h", shape, part_path(dir_, name(b)));
    }

private:
    static std::string name(int b) { return "h." + std::to_string(b); }
    fs::path dir_;
    bool on_disk_;
    std::map<int, torch::Tensor> ram_;
};

// ---- the head ------------------------------------------------------------------------------------

struct HeadResult {
    std::vector<double> losses;  // L_s per sequence
    torch::Tensor lse;           // log-sum-exp of each position's logits, {n, T}
    torch::Tensor grads;         // dL_s/dh_L, {n, T, dim}
};

// Each sequence's mean next-token cross-entropy and its gradient with respect to h_L, through the
// final norm and the lm_head read in chunks (model_ends.h); sequences in batches whose logits stay
// within 256 MiB.
HeadResult head_gradients(const model::Checkpoint& ckpt, const torch::Tensor& h_last, const torch::Tensor& tokens,
                          const Progress& progress) {
    const model::StreamedHead head(ckpt);
    const std::int64_t n = h_last.size(0), T = h_last.size(1), vocab = ckpt.config.vocab_size;
    const std::int64_t batch = std::clamp<std::int64_t>((std::int64_t(64) << 20) / std::max<std::int64_t>(1, T * vocab), 1, n);
    HeadResult out;
    out.grads = torch::empty(h_last.sizes(), torch::kFloat);
    out.lse = torch::empty({n, T}, torch::kFloat);
    c10::InferenceMode no_inference(false);
    for (std::int64_t s0 = 0; s0 < n; s0 += batch) {
        progress.check();
        const std::int64_t b = std::min(batch, n - s0);
        torch::AutoGradMode grad_mode(true);
        const torch::Tensor h = h_last.narrow(0, s0, b).detach().clone().requires_grad_(true);
        const torch::Tensor hn = head.norm(h);
        torch::Tensor dlogits;
        {
            // d(mean CE over the T-1 predictions)/dlogits = (softmax - onehot(next)) / (T-1), 0 at the last position.
            torch::NoGradGuard no_grad;
            const torch::Tensor logits = head.logits(hn);
            out.lse.narrow(0, s0, b).copy_(torch::logsumexp(logits, -1));
            const auto ids = tokens.narrow(0, s0, b).to(torch::kLong);
            const auto next = ids.narrow(1, 1, T - 1);
            const auto logp = torch::log_softmax(logits.narrow(1, 0, T - 1), -1);
            const auto mean = (-logp.gather(-1, next.unsqueeze(-1)).squeeze(-1)).mean(1).to(torch::kDouble);
            for (std::int64_t i = 0; i < b; ++i) out.losses.push_back(mean[i].item<double>());
            auto d = logp.exp();
            d.scatter_add_(-1, next.unsqueeze(-1), torch::full({b, T - 1, 1}, -1.0f));
            dlogits = torch::zeros({b, T, vocab}, torch::kFloat);
            dlogits.narrow(1, 0, T - 1).copy_(d / static_cast<double>(T - 1));
        }
        const auto g = torch::autograd::grad({hn}, {h}, {head.backward(dlogits)});
        out.grads.narrow(0, s0, b).copy_(g[0]);
    }
    head.release();
    return out;
}

// ---- per-layer memory -------------------------------------------------------------------------

std::uint64_t layer_parameters(const model::ModelConfig& c) {
    std::uint64_t n = 0;
    for (const auto& t : model::canonical_tensors(c))
        if (t.layer == 0) {
            std::uint64_t e = 1;
            for (auto d : t.shape) e *= static_cast<std::uint64_t>(d);
            n += e;
        }
    return n;
}

// One layer's pass: fp32 weights, their gradients, the Fisher accumulators and a gathered copy, the
// tile-cost temporaries of the largest matrix, the four Hessians, and one sequence's autograd graph.
std::uint64_t layer_working_set(const model::ModelConfig& c, std::int64_t seq_len) {
    const std::uint64_t p = layer_parameters(c);
    const std::uint64_t largest = static_cast<std::uint64_t>(c.dim * std::max(c.hidden_dim, c.n_heads * c.head_dim));
    const std::uint64_t hess = static_cast<std::uint64_t>(3 * c.dim * c.dim + c.hidden_dim * c.hidden_dim);
    const std::uint64_t graph = static_cast<std::uint64_t>(seq_len) *
                                static_cast<std::uint64_t>(12 * c.dim + 6 * c.hidden_dim + 2 * c.n_heads * seq_len);
    return 4 * (4 * p + 4 * largest + 2 * hess + graph);
}

std::vector<std::int64_t> sizes_of(std::int64_t n, std::int64_t T, std::int64_t dim) { return {n, T, dim}; }

}  // namespace

Analysis analyze_streamed(const model::Checkpoint& ckpt, const AnalysisOptions& o, const fs::path& out,
                          const StreamOptions& so, const Progress& progress, StreamReport* report) {
    const auto t0 = clock::now();
    if (!ckpt.packed.empty())
        throw InputError(ckpt.path, "sensitivity needs dense linear weights; " + ckpt.packed.begin()->first +
                                        " is packed (an exported model)");
    Analysis a = start_analysis(ckpt, o);
    const model::ModelConfig& c = a.config;
    const quant::TileSpec spec{a.options.tile_rows, a.options.tile_cols, a.options.group};
    const torch::Device device(o.device);
    const int L = static_cast<int>(c.n_layers);

    const calib::CalibrationSet set = calib::load_calibration_set(*ckpt.tokenizer, o.calib_text, o.samples, o.seq_len, o.seed);
    a.options.seed = set.seed;
    const std::int64_t n = set.sequences(), T = set.seq_len(), dim = c.dim;
    const auto hshape = sizes_of(n, T, dim);

    StreamReport rep;
    rep.max_memory = so.max_memory ? so.max_memory : available_memory_bytes() / 5 * 4;
    rep.layer_working_set = layer_working_set(c, T);
    rep.activation_bytes = static_cast<std::uint64_t>(L + 1) * static_cast<std::uint64_t>(n * T * dim) * 4;
    if (rep.max_memory && rep.layer_working_set > rep.max_memory)
        throw InputError("the memory limit of " + std::to_string(rep.max_memory >> 20) +
                         " MiB is below one layer's working set (about " + std::to_string(rep.layer_working_set >> 20) +
                         " MiB for sequences of " + std::to_string(T) + " tokens)");
    rep.activations_on_disk = rep.max_memory && rep.layer_working_set + rep.activation_bytes > rep.max_memory;

    const fs::path dir = so.work_dir.empty() ? fs::path(out.string() + ".work") : so.work_dir;
    prepare_work_dir(dir, manifest_of(a), so.resume);
    auto note_scratch = [&] { rep.scratch_bytes = std::max(rep.scratch_bytes, folder_bytes(dir)); };

    model::LlamaModel shell(c, ckpt.path.string(), device);
    Boundaries h(dir, rep.activations_on_disk);
    const double units = 3.0 * L + 1;
    auto stage = [&](double base, const std::string& name) {
        Progress p;
        p.token = progress.token;
        if (progress.report)
            p.report = [&progress, base, name, units](double d, double t, const std::string&) {
                progress.report(base + (t > 0 ? d / t : 0.0), units, name);
            };
        return p;
    };
    auto load_layer = [&](int l) { return model::load_decoder_layer(ckpt, c, l, device, /*release=*/true); };

    // 1-2. Forward and head, unless every boundary and the head's gradients are already in the folder.
    auto t = clock::now();
    std::optional<io::SafetensorsFile> head = read_part(dir, "head");
    bool all_boundaries = head.has_value();
    for (int b = 0; b <= L && all_boundaries; ++b) all_boundaries = h.has(b);
    if (!all_boundaries) {
        torch::NoGradGuard no_grad;
        h.put(0, model::embed_tokens(ckpt, set.tokens));
        torch::Tensor cur = h.get(0, hshape);
        for (int l = 0; l < L; ++l) {
            const Progress p = stage(l, "forward");
            model::DecoderLayer layer = load_layer(l);
            torch::Tensor next = torch::empty(hshape, torch::kFloat);
            for (std::int64_t s = 0; s < n; ++s) {
                p.checkpoint(static_cast<double>(s), static_cast<double>(n), "");
                next.narrow(0, s, 1).copy_(shell.forward_layer(layer, l, cur.narrow(0, s, 1).to(device)));
            }
            h.put(l + 1, next);
            cur = next;
        }
        if (!head) {
            HeadResult r = head_gradients(ckpt, cur, set.tokens, stage(L, "forward"));
            write_part(part_path(dir, "head"),
                       {{"grad", r.grads}, {"loss", torch::tensor(r.losses, torch::kDouble)}, {"lse", r.lse}});
            head = read_part(dir, "head");
            if (!head) throw InputError(dir, "the work folder cannot be read back");
        }
    }
    rep.forward_seconds = since(t);
    note_scratch();
    {
        const auto losses = part_doubles(*head, "loss", n, part_path(dir, "head"));
        double sum = 0;
        for (double v : losses) sum += v;
        a.calib_loss = sum / static_cast<double>(n);
    }
    // dL/dh_{l+1}: the head's gradient above the top layer, else what the backward of layer l+1 wrote.
    auto output_grads = [&](int l) {
        if (l == L - 1) return part_torch(*head, "grad", hshape, part_path(dir, "head"));
        const auto f = read_part(dir, layer_part('a', l + 1));
        if (!f) throw FormatError(part_path(dir, layer_part('a', l + 1)), "a finished layer's work file went missing");
        return part_torch(*f, "grad", hshape, part_path(dir, layer_part('a', l + 1)));
    };

    // 3. Top-down backward: the original layout's tables and the Fisher's marginals.
    t = clock::now();
    const std::int64_t nw = static_cast<std::int64_t>(a.widths.size());
    for (int l = L - 1; l >= 0; --l) {
        if (read_part(dir, layer_part('a', l))) {
            ++rep.layers_resumed;
            continue;
        }
        const Progress p = stage(L + 1 + (L - 1 - l), "sensitivity (original layout)");
        p.check();
        model::DecoderLayer layer = load_layer(l);
        const torch::Tensor hin = h.get(l, hshape), gout = output_grads(l);
        calib::SensitivityOptions so_a;
        so_a.factored = false;
        so_a.hessian = false;
        calib::LayerPass pass = calib::layer_sensitivity(
            shell, layer, l, n, [&](std::int64_t s) { return hin.narrow(0, s, 1); },
            [&](std::int64_t s) { return gout.narrow(0, s, 1); }, so_a, /*input_grads=*/true, p, "");
        std::vector<std::pair<std::string, torch::Tensor>> tensors;
        tensors.emplace_back("grad", torch::cat(pass.input_grads, 0));
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            auto& st = pass.stats[kind];
            const MatrixTables tab = matrix_tables(layer.linear(kind).weight, st.fisher, spec, a.widths);
            const reorder::Marginals m = reorder::marginals(st, reorder::ReorderOptions::Source::Fisher,
                                                            model::linear_weight_name(l, kind));
            const std::string ks = std::to_string(k);
            tensors.emplace_back("cost." + ks, torch::tensor(tab.cost, torch::kDouble).view({-1, nw}));
            tensors.emplace_back("fisher." + ks, torch::tensor(tab.fisher, torch::kDouble));
            tensors.emplace_back("rows." + ks, torch::tensor(m.rows, torch::kDouble));
            tensors.emplace_back("cols." + ks, torch::tensor(m.cols, torch::kDouble));
            st.fisher = torch::Tensor();  // dropped as soon as its tables exist
        }
        write_part(part_path(dir, layer_part('a', l)), tensors);
        note_scratch();
    }
    rep.backward_seconds = since(t);

    // 4. The permutations, from every layer's marginals.
    std::vector<reorder::LayerMarginals> marg(static_cast<std::size_t>(L));
    std::vector<io::SafetensorsFile> a_parts;
    for (int l = 0; l < L; ++l) {
        auto f = read_part(dir, layer_part('a', l));
        const fs::path file = part_path(dir, layer_part('a', l));
        if (!f) throw FormatError(file, "a finished layer's work file went missing");
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto [rows, cols] = model::linear_shape(c, static_cast<LinearKind>(k));
            auto& m = marg[static_cast<std::size_t>(l)][static_cast<std::size_t>(k)];
            m.rows = part_doubles(*f, "rows." + std::to_string(k), rows, file);
            m.cols = part_doubles(*f, "cols." + std::to_string(k), cols, file);
        }
        a_parts.push_back(std::move(*f));
    }
    reorder::ReorderOptions ro;
    ro.heads = o.reorder_heads;
    a.permutations = reorder::permutations_from_marginals(marg, c, ro);
    marg.clear();

    // 4b. The vocabulary matrices (vocab_tables.h), a chunk of tile rows at a time.
    t = clock::now();
    for (int kind : vocab_kinds(c)) {
        const std::string name = vocab_part(kind);
        if (read_part(dir, name)) {
            ++rep.layers_resumed;
            continue;
        }
        progress.check();
        VocabTablesBuilder builder(vocab_matrix_record(c, kind, spec), a.permutations.hidden, a.widths);
        vocab_fisher(ckpt, kind, h.get(L, hshape), set.tokens, part_torch(*head, "lse", {n, T}, part_path(dir, "head")),
                     [&] {
                         const auto f = read_part(dir, layer_part('a', 0));
                         if (!f) throw FormatError(part_path(dir, layer_part('a', 0)), "a finished layer's work file went missing");
                         return part_torch(*f, "grad", hshape, part_path(dir, layer_part('a', 0)));
                     }(),
                     spec.tile_rows, progress, [&](std::int64_t first, const torch::Tensor& w, const torch::Tensor& f) {
                         builder.add_rows(first, w, f);
                     });
        const MatrixAnalysis m = builder.finish();
        write_part(part_path(dir, name),
                   {{"cost.o", torch::tensor(m.cost_original, torch::kDouble)},
                    {"cost.r", torch::tensor(m.cost_reordered, torch::kDouble)},
                    {"fisher.o", torch::tensor(m.fisher_original, torch::kDouble)},
                    {"fisher.r", torch::tensor(m.fisher_reordered, torch::kDouble)},
                    {"group", torch::tensor(builder.group_costs(), torch::kFloat)},
                    {"r", torch::tensor(builder.row_sums(), torch::kFloat)},
                    {"c", torch::tensor(builder.col_sums(), torch::kFloat)}},
                   nlohmann::json{{"fisher_total", m.fisher_total}});
        note_scratch();
    }
    rep.vocab_seconds = since(t);

    // 5. Per layer: the statistics again, in the reordered layout, and its tables.
    t = clock::now();
    for (int l = 0; l < L; ++l) {
        if (read_part(dir, layer_part('b', l))) {
            ++rep.layers_resumed;
            continue;
        }
        const Progress p = stage(2 * L + 1 + l, "sensitivity (reordered layout)");
        p.check();
        model::DecoderLayer layer = load_layer(l);
        const torch::Tensor hin = h.get(l, hshape), gout = output_grads(l);
        calib::LayerPass pass = calib::layer_sensitivity(
            shell, layer, l, n, [&](std::int64_t s) { return hin.narrow(0, s, 1); },
            [&](std::int64_t s) { return gout.narrow(0, s, 1); }, {}, /*input_grads=*/false, p, "");
        // The reordered model computes the same function, so its statistics are the original ones
        // gathered (reorder.h), as the in-memory analysis does.
        calib::LayerSensitivity sr = reorder::permute_layer_sensitivity(std::move(pass.stats), a.permutations, c, l);
        pass = {};
        reorder::apply_to_layer(layer, a.permutations, c, l);
        std::vector<std::pair<std::string, torch::Tensor>> tensors;
        nlohmann::json meta = nlohmann::json::array();
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            auto& ls = sr[kind];
            const MatrixTables tab = matrix_tables(layer.linear(kind).weight, ls.fisher, spec, a.widths);
            const auto corr = calib::factored_correlation(ls.fisher, ls.r, ls.c);
            meta.push_back({{"fisher_total", ls.fisher.sum().item<double>()},
                            {"factored_corr", corr.pearson},
                            {"factored_log_corr", corr.log_pearson}});
            const std::string ks = std::to_string(k);
            tensors.emplace_back("cost." + ks, torch::tensor(tab.cost, torch::kDouble).view({-1, nw}));
            tensors.emplace_back("fisher." + ks, torch::tensor(tab.fisher, torch::kDouble));
            tensors.emplace_back("group." + ks, torch::tensor(tab.group_cost, torch::kFloat).view({-1, nw}));
            tensors.emplace_back("r." + ks, ls.r.to(torch::kCPU, torch::kFloat));
            tensors.emplace_back("c." + ks, ls.c.to(torch::kCPU, torch::kFloat));
            ls.fisher = torch::Tensor();  // each matrix's Fisher goes once its tables exist
        }
        layer = {};
        for (int s = 0; s < calib::kInputSites; ++s)
            if (auto& hs = sr.hessian[static_cast<std::size_t>(s)]; hs.defined()) {
                tensors.emplace_back(std::string("hessian.") + calib::input_site_name(static_cast<calib::InputSite>(s)),
                                     calib::pack_upper_triangle(hs));
                hs = torch::Tensor();
            }
        write_part(part_path(dir, layer_part('b', l)), tensors, meta);
        note_scratch();
    }
    rep.reordered_seconds = since(t);

    // 6. The analysis file from the per-layer results: the tables into the record, the large tensors
    // copied from the mapped work files without a copy in memory.
    t = clock::now();
    std::vector<io::SafetensorsFile> b_parts;
    for (int l = 0; l < L; ++l) {
        const fs::path af = part_path(dir, layer_part('a', l)), bf = part_path(dir, layer_part('b', l));
        auto f = read_part(dir, layer_part('b', l));
        if (!f) throw FormatError(bf, "a finished layer's work file went missing");
        nlohmann::json meta;
        try {
            meta = nlohmann::json::parse(f->metadata.at("scalebits.part"));
        } catch (const std::exception&) {
            throw FormatError(bf, "work file without its per-matrix totals");
        }
        for (int k = 0; k < kLinearKinds; ++k) {
            MatrixAnalysis m = matrix_record(c, l, static_cast<LinearKind>(k), spec);
            const std::string ks = std::to_string(k);
            m.cost_original = to_doubles(part_torch(a_parts[static_cast<std::size_t>(l)], "cost." + ks, {m.tile_count(), nw}, af));
            m.fisher_original = part_doubles(a_parts[static_cast<std::size_t>(l)], "fisher." + ks, m.tile_count(), af);
            m.cost_reordered = to_doubles(part_torch(*f, "cost." + ks, {m.tile_count(), nw}, bf));
            m.fisher_reordered = part_doubles(*f, "fisher." + ks, m.tile_count(), bf);
            const auto& mk = meta.at(static_cast<std::size_t>(k));
            m.fisher_total = mk.at("fisher_total").get<double>();
            m.factored_corr = mk.at("factored_corr").is_number() ? mk.at("factored_corr").get<double>() : NAN;
            m.factored_log_corr = mk.at("factored_log_corr").is_number() ? mk.at("factored_log_corr").get<double>() : NAN;
            m.top10_share_before = top_share(m.fisher_original);
            m.top10_share_after = top_share(m.fisher_reordered);
            a.matrices.push_back(std::move(m));
        }
        b_parts.push_back(std::move(*f));
    }
    a_parts.clear();
    std::vector<io::SafetensorsFile> v_parts;
    for (int kind : vocab_kinds(c)) {
        const std::string name = vocab_part(kind);
        const fs::path vf = part_path(dir, name);
        auto f = read_part(dir, name);
        if (!f) throw FormatError(vf, "the vocabulary matrices' work file went missing");
        MatrixAnalysis m = vocab_matrix_record(c, kind, spec);
        m.cost_original = to_doubles(part_torch(*f, "cost.o", {m.tile_count() * nw}, vf));
        m.cost_reordered = to_doubles(part_torch(*f, "cost.r", {m.tile_count() * nw}, vf));
        m.fisher_original = part_doubles(*f, "fisher.o", m.tile_count(), vf);
        m.fisher_reordered = part_doubles(*f, "fisher.r", m.tile_count(), vf);
        try {
            m.fisher_total = nlohmann::json::parse(f->metadata.at("scalebits.part")).at("fisher_total").get<double>();
        } catch (const std::exception&) {
            throw FormatError(vf, "work file without its Fisher total");
        }
        m.top10_share_before = top_share(m.fisher_original);
        m.top10_share_after = top_share(m.fisher_reordered);
        m.factored_corr = m.factored_log_corr = NAN;
        a.matrices.push_back(std::move(m));
        v_parts.push_back(std::move(*f));
    }
    a.unquantized_bytes = exporting::export_overhead_bytes(a);
    progress.checkpoint(3.0 * L, units, "writing");
    a.seconds = since(t0);
    a.file = out;
    save_analysis(a, out, [&](io::SafetensorsWriter& wr) {
        std::size_t vi = 0;
        for (const auto& m : a.matrices) {
            if (is_vocab_kind(m.kind)) {
                const auto& f = v_parts[vi++];
                const fs::path vf = part_path(dir, vocab_part(m.kind));
                // Stored flat in the work file; the analysis file has them shaped.
                io::HostTensor g = part_tensor(f, "group", vf);
                g.shape = {static_cast<std::int64_t>(g.numel()) / nw, nw};
                wr.add_mapped("cost.group." + m.name, g);
                wr.add_mapped("r." + m.name, part_tensor(f, "r", vf));
                wr.add_mapped("c." + m.name, part_tensor(f, "c", vf));
                continue;
            }
            const auto& f = b_parts[static_cast<std::size_t>(m.layer)];
            const fs::path bf = part_path(dir, layer_part('b', m.layer));
            const std::string ks = std::to_string(m.kind);
            wr.add_mapped("cost.group." + m.name, part_tensor(f, "group." + ks, bf));
            wr.add_mapped("r." + m.name, part_tensor(f, "r." + ks, bf));
            wr.add_mapped("c." + m.name, part_tensor(f, "c." + ks, bf));
        }
        for (int l = 0; l < L; ++l)
            for (int s = 0; s < calib::kInputSites; ++s) {
                const std::string site = calib::input_site_name(static_cast<calib::InputSite>(s));
                if (const io::HostTensor* ht = b_parts[static_cast<std::size_t>(l)].find("hessian." + site))
                    wr.add_mapped("hessian." + std::to_string(l) + "." + site, *ht);
            }
    }, progress);
    rep.writing_seconds = since(t);
    note_scratch();
    b_parts.clear();
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (report) *report = rep;
    return a;
}

}  // namespace scalebits::analysis
