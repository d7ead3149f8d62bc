#include "core/workflow/jobs.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/analysis/analysis_file.h"
#include "core/analysis/quantized_stream.h"
#include "core/analysis/sweep.h"
#include "core/eval/packed_perplexity.h"
#include "core/eval/perplexity.h"
#include "core/eval/streamed_perplexity.h"
#include "core/eval/text.h"
#include "core/export/hf_export.h"
#include "core/model/checkpoint.h"
#include "core/model/device.h"
#include "core/model/llama.h"
#include "core/base/tensor_names.h"
#include "core/runtime/packed_decoder.h"
#include "core/util/option_error.h"

namespace scalebits::workflow {

AnalyzeOutcome run_analyze(const AnalyzeJob& job, const Progress& progress) {
    const torch::Device device = model::parse_device(job.options.device);  // before reading anything
    const model::Checkpoint ckpt = model::load_checkpoint(job.model, job.tokenizer);
    if (job.out.has_parent_path()) std::filesystem::create_directories(job.out.parent_path());
    AnalyzeOutcome outcome;
    if (job.in_memory) {
        model::LlamaModel m(ckpt, device, model::Residency::Whole);
        outcome.analysis = analysis::analyze(ckpt, m, job.options, job.out, progress);
    } else {
        outcome.analysis = analysis::analyze_streamed(ckpt, job.options, job.out, job.stream, progress, &outcome.report);
    }
    return outcome;
}

namespace {

// What scoring an allocation against the full-precision model needs: the model (checked against the
// analysis before it is read), the evaluation text's tokens and the windows over them.
struct ScoringInputs {
    model::Checkpoint checkpoint;
    std::vector<std::int32_t> tokens;
    eval::PerplexityOptions options;
};

ScoringInputs scoring_inputs(const analysis::Analysis& a, const ScoringOptions& o) {
    const std::filesystem::path path = o.model.value_or(a.model_path);
    analysis::check_model_matches(a, path);
    ScoringInputs in;
    in.checkpoint = model::load_checkpoint(path, o.tokenizer);
    if (!in.checkpoint.tokenizer) throw InputError(path, "has no tokenizer to read the evaluation text with");
    in.tokens = eval::tokenize_text(*in.checkpoint.tokenizer, eval::read_text(o.text, o.max_bytes));
    in.options.ctx = std::min<std::int64_t>(o.ctx, in.checkpoint.config.max_seq_len);
    in.options.max_windows = o.max_windows;
    return in;
}

}  // namespace

ExportFormat parse_export_format(const std::string& name) {
    if (name == "packed") return ExportFormat::Packed;
    if (name == "hf") return ExportFormat::HuggingFace;
    throw OptionError(Setting::Format, "unknown export format '" + name + "' (expected packed or hf)");
}

ExportOutcome run_export(const analysis::Analysis& a, const analysis::Allocation& allocation, const ExportJob& job,
                         const Progress& progress) {
    const std::filesystem::path model = job.model.value_or(a.model_path);
    analysis::check_model_matches(a, model);  // before reading it: a wrong model fails fast
    // Layer by layer (export.h): the checkpoint's tensors are read where they lie.
    const model::Checkpoint ckpt = model::load_checkpoint(model, job.tokenizer);
    exporting::ExportInfo info;
    info.budget_bits_per_weight = job.budget_bits_per_weight > 0 ? job.budget_bits_per_weight : allocation.avg_bits;
    ExportOutcome outcome;
    outcome.exported = job.format == ExportFormat::HuggingFace
                           ? exporting::export_hf(ckpt, a, allocation, job.quantizer, job.out, info, progress)
                           : exporting::export_model(ckpt, a, allocation, job.quantizer, job.out, info, progress);
    if (job.latency_steps > 0 && job.format == ExportFormat::Packed) {
        outcome.latency = exporting::measure_latency(job.out, job.latency_text, job.latency_prompt_tokens,
                                                     job.latency_steps, progress);
        exporting::save_latency_report(*outcome.latency, job.out / "latency_report.json");
    }
    return outcome;
}

EvaluateOutcome run_evaluate(const analysis::Analysis& a, const analysis::Allocation& allocation, const EvaluateJob& job,
                             const Progress& progress) {
    const torch::Device device = model::parse_device(job.scoring.device);  // before reading anything
    const ScoringInputs in = scoring_inputs(a, job.scoring);
    const eval::StreamedReference reference(in.checkpoint, device, in.tokens, in.options, progress,
                                            job.scoring.activation_bytes);
    const auto q = analysis::evaluate_allocation(in.checkpoint, a, allocation, job.quantizer, reference, nullptr, progress);
    EvaluateOutcome out;
    out.avg_bits = allocation.avg_bits;
    out.ppl = q.ppl.ppl;
    out.fp_ppl = reference.baseline().ppl;
    out.kl = q.kl;
    out.windows = q.ppl.windows;
    return out;
}

std::uint64_t dense_fp32_bytes(const model::ModelConfig& config) {
    std::uint64_t n = 0;
    for (const auto& t : model::canonical_tensors(config)) {
        std::uint64_t e = 4;
        for (auto d : t.shape) e *= static_cast<std::uint64_t>(d);
        n += e;
    }
    return n;
}

bool whole_model_fits(const model::ModelConfig& config) {
    return 2 * dense_fp32_bytes(config) <= analysis::available_memory_bytes();
}

ModelEvaluateOutcome run_model_evaluate(const ModelEvaluateJob& job, const Progress& progress) {
    const ScoringOptions& so = job.scoring;
    if (!so.model) throw InputError("no model to evaluate");
    const torch::Device device = model::parse_device(so.device);
    const auto t_load = std::chrono::steady_clock::now();
    const model::Checkpoint ckpt = model::load_checkpoint(*so.model, so.tokenizer);
    ModelEvaluateOutcome out;
    out.model = ckpt.path;
    const bool packed = !ckpt.packed.empty();
    out.streamed = !packed && (job.stream || !whole_model_fits(ckpt.config));
    out.native = packed && !job.torch_engine;
    if (out.native && device != torch::kCPU)
        throw OptionError(Setting::Device, "exported models run on the CPU decode engine in this build; use the cpu device");
    std::unique_ptr<model::LlamaModel> whole;
    if (!out.streamed && !out.native) whole = std::make_unique<model::LlamaModel>(ckpt, device);
    out.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    if (!ckpt.tokenizer) throw InputError(*so.model, "has no tokenizer to read the evaluation text with");
    const std::string text = eval::read_text(so.text, so.max_bytes);
    out.text_bytes = text.size();
    const auto t_tok = std::chrono::steady_clock::now();
    const auto tokens = eval::tokenize_text(*ckpt.tokenizer, text);
    out.tokenize_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_tok).count();
    eval::PerplexityOptions o;
    o.ctx = so.ctx;
    o.max_windows = so.max_windows;
    o.batch = job.batch;
    out.ctx = o.ctx;
    if (out.native) {
        runtime::PackedDecoder decoder(ckpt, std::min(o.ctx, ckpt.config.max_seq_len));
        out.ppl = runtime::perplexity_packed(decoder, tokens, o, progress);
    } else if (out.streamed) {
        out.ppl = eval::perplexity_streamed(ckpt, device, tokens, o, progress, so.activation_bytes);
    } else {
        out.ppl = eval::perplexity(*whole, tokens, o, progress);
    }
    return out;
}

UniformEvaluateOutcome run_uniform_evaluate(const analysis::Analysis& a, const UniformEvaluateJob& job,
                                            const Progress& progress) {
    const torch::Device device = model::parse_device(job.scoring.device);
    const ScoringInputs in = scoring_inputs(a, job.scoring);
    const auto t0 = std::chrono::steady_clock::now();
    const analysis::MatrixQuantizer mq(a, analysis::uniform_tile_widths(a, job.bits), job.quantizer, job.reordered,
                                       analysis::WidthGranularity::Tile, &in.checkpoint, device, progress);
    const double before = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Layer by layer: each layer is loaded, folded into the layout and fake-quantized when the pass
    // reaches it (quantized_stream.h), so no fp32 copy of the whole model is made.
    UniformEvaluateOutcome out;
    out.ctx = in.options.ctx;
    out.ppl = eval::perplexity_streamed(
        in.checkpoint, analysis::quantized_layers(in.checkpoint, mq, job.reordered, device, &out.quantize_s), device,
        in.tokens, in.options, progress, job.scoring.activation_bytes);
    out.ppl.seconds -= out.quantize_s;  // the pass interleaves quantizing and scoring
    out.quantize_s += before;           // the sequential GPTQ pass ran before it
    return out;
}

SweepOutcome run_sweep(const analysis::Analysis& a, const SweepJob& job,
                       const std::function<void(const eval::PerplexityResult&, std::int64_t)>& on_baseline,
                       const std::function<void(const analysis::SweepRow&)>& on_row, const Progress& progress) {
    const torch::Device device = model::parse_device(job.scoring.device);  // before reading anything
    const ScoringInputs in = scoring_inputs(a, job.scoring);
    const eval::StreamedReference reference(in.checkpoint, device, in.tokens, in.options, progress,
                                            job.scoring.activation_bytes);
    SweepOutcome out;
    out.ctx = in.options.ctx;
    out.baseline = reference.baseline();
    if (on_baseline) on_baseline(out.baseline, out.ctx);
    out.rows = analysis::run_sweep(in.checkpoint, a, reference, job.sweep, on_row, progress);
    return out;
}

}  // namespace scalebits::workflow
