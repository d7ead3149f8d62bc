// Format detection and the checks every loaded checkpoint passes, whatever its format: every tensor
// the config implies is present with the right shape and a floating-point storage type, and nothing
// unexpected is left over.
#include "core/model/checkpoint.h"

#include <cstring>
#include <fstream>

#include "core/io/checkpoint_format.h"
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/io/hf_config.h"
#include "core/io/llama2c.h"
#include "core/io/safetensors.h"
#include "core/base/tensor_names.h"
#include "core/tokenizer/factory.h"
#include <scalebits/kernels.h>

#include "core/util/error.h"

namespace scalebits::model {

const io::HostTensor& Checkpoint::tensor(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw InputError(path, "checkpoint has no tensor '" + name + "'");
    return it->second;
}

namespace {

namespace fs = std::filesystem;

std::string shape_str(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

bool float_storage(io::DType t) {
    switch (t) {
        case io::DType::I8: case io::DType::I16: case io::DType::I32: case io::DType::I64:
        case io::DType::U8: case io::DType::BOOL:
            return false;
        default:
            return true;
    }
}

// The canonical tensors a config implies, with their shapes.
std::map<std::string, std::vector<std::int64_t>> expected_tensors(const ModelConfig& c) {
    std::map<std::string, std::vector<std::int64_t>> e;
    for (TensorSpec& t : canonical_tensors(c)) e.emplace(std::move(t.name), std::move(t.shape));
    return e;
}

void validate_tensors(Checkpoint& ck) {
    // Tied checkpoints sometimes store lm_head anyway (a copy of the embedding); old HF checkpoints
    // carry the RoPE inverse-frequency buffers. Neither is a weight the model reads.
    if (ck.config.tie_word_embeddings) ck.tensors.erase("lm_head.weight");
    std::erase_if(ck.tensors, [](const auto& kv) { return kv.first.ends_with(".rotary_emb.inv_freq"); });

    const auto expected = expected_tensors(ck.config);
    for (const auto& [name, shape] : expected) {
        if (auto p = ck.packed.find(name); p != ck.packed.end()) {
            const auto& g = p->second.view.grid;
            if (std::vector<std::int64_t>{std::int64_t(g.rows), std::int64_t(g.cols)} != shape)
                throw InputError(ck.path, "packed matrix '" + name + "' is " + std::to_string(g.rows) + "x" +
                                              std::to_string(g.cols) + ", the config implies " + shape_str(shape));
            continue;
        }
        auto it = ck.tensors.find(name);
        if (it == ck.tensors.end()) throw InputError(ck.path, "missing tensor '" + name + "'");
        const io::HostTensor& t = it->second;
        if (t.shape != shape)
            throw InputError(ck.path, "tensor '" + name + "' has shape " + shape_str(t.shape) + ", the config implies " +
                                          shape_str(shape));
        if (!float_storage(t.dtype))
            throw InputError(ck.path, "tensor '" + name + "' is stored as " + io::dtype_name(t.dtype) +
                                          ", not a floating-point or ggml quantized type");
        const std::int64_t want = io::dtype_bytes_for(t.dtype, t.numel());
        if (want < 0 || static_cast<std::uint64_t>(want) != t.bytes.size())
            throw InputError(ck.path, "tensor '" + name + "' holds " + std::to_string(t.bytes.size()) +
                                          " bytes, its shape and type need " + std::to_string(want));
    }
    const std::string family = family_name(ck.config.family);
    for (const auto& [name, t] : ck.tensors)
        if (!expected.count(name))
            throw InputError(ck.path, "unexpected tensor '" + name + "' for a " + family + " model" +
                                          (name.ends_with(".bias") ? " (its config has no bias there)" : ""));
    for (const auto& [name, p] : ck.packed)
        if (!expected.count(name)) throw InputError(ck.path, "unexpected packed matrix '" + name + "' for a " + family + " model");
}

// The first bytes of a file (fewer when it is shorter), zero-padded to 8 for the magic checks.
// An explicitly given tokenizer: tokenizer.json, a GGUF file's vocabulary, or a llama2.c tokenizer.bin.
std::shared_ptr<const tokenizer::Tokenizer> load_tokenizer_file(const fs::path& t, std::int64_t vocab_size) {
    if (t.extension() == ".json") return tokenizer::load_tokenizer_json(t);
    if (t.extension() == ".gguf") {
        const io::GgufFile f = io::read_gguf(t);
        const auto vocab = io::gguf_vocab(f);
        if (!vocab) throw InputError(t, "GGUF file without a tokenizer vocabulary");
        return tokenizer::make_gguf_tokenizer(*vocab, t.string());
    }
    return tokenizer::load_llama2c_tokenizer(t, static_cast<std::int32_t>(vocab_size));
}

Checkpoint load_gguf(const fs::path& p, const std::optional<fs::path>& tok) {
    Checkpoint ck;
    ck.path = p;
    ck.format = "gguf";
    const io::GgufFile f = io::read_gguf(p);
    io::GgufLlama g = io::gguf_to_llama(f);
    ck.config = g.config;
    ck.tensors = std::move(g.tensors);
    if (tok) {
        ck.tokenizer = load_tokenizer_file(*tok, ck.config.vocab_size);
        ck.tokenizer_source = *tok;
    } else if (g.vocab) {
        ck.tokenizer = tokenizer::make_gguf_tokenizer(*g.vocab, p.string());
        ck.tokenizer_source = p;
    }
    return ck;
}

Checkpoint load_llama2c(const fs::path& p, const std::optional<fs::path>& tok) {
    Checkpoint ck;
    ck.path = p;
    ck.format = "llama2c";
    io::Llama2cModel m = io::read_llama2c(p);
    ck.config = m.config;
    ck.tensors = std::move(m.tensors);
    if (auto t = io::find_llama2c_tokenizer(p, ck.config.vocab_size, tok)) {
        ck.tokenizer = load_tokenizer_file(*t, ck.config.vocab_size);
        ck.tokenizer_source = *t;
    }
    return ck;
}

Checkpoint load_export(const fs::path& p, const std::optional<fs::path>& tok) {
    io::PackedExport e = io::read_packed_export(p);
    Checkpoint ck;
    ck.path = p;
    ck.format = "scalebits-export";
    ck.config = e.config;
    ck.tensors = std::move(e.tensors);
    ck.packed = std::move(e.packed);
    ck.quantization = std::move(e.quantization);
    const fs::path t = tok ? *tok : e.tokenizer_file;
    ck.tokenizer_source = t;
    if (!t.empty()) ck.tokenizer = load_tokenizer_file(t, ck.config.vocab_size);
    return ck;
}

Checkpoint load_safetensors(const fs::path& p, const std::optional<fs::path>& tok) {
    const fs::path folder = fs::is_directory(p) ? p : p.parent_path();
    const fs::path config = folder / "config.json";
    if (!fs::is_regular_file(config))
        throw InputError(p, "safetensors checkpoint without a config.json beside it (" + config.string() + ")");
    Checkpoint ck;
    ck.path = p;
    ck.format = "safetensors";
    ck.config = io::read_hf_config(config);
    for (io::HostTensor& t : io::read_safetensors_model(p).tensors) {
        std::string name = t.name;
        ck.tensors.emplace(std::move(name), std::move(t));
    }
    if (tok) {
        ck.tokenizer = load_tokenizer_file(*tok, ck.config.vocab_size);
        ck.tokenizer_source = *tok;
    } else if (fs::is_regular_file(folder / "tokenizer.json")) {
        ck.tokenizer = tokenizer::load_tokenizer_json(folder / "tokenizer.json");
        ck.tokenizer_source = folder / "tokenizer.json";
    } else {
        // A Hugging Face export (export --format hf) of a GGUF or llama2.c model carries that
        // model's vocabulary file.
        for (const char* name : {"tokenizer.gguf", "tokenizer.bin"})
            if (fs::is_regular_file(folder / name)) {
                ck.tokenizer = load_tokenizer_file(folder / name, ck.config.vocab_size);
                ck.tokenizer_source = folder / name;
                break;
            }
    }
    return ck;
}

}  // namespace

Checkpoint load_checkpoint(const fs::path& model_path, const std::optional<fs::path>& tokenizer_path) {
    Checkpoint ck;
    switch (io::detect_checkpoint_format(model_path)) {
    case io::CheckpointFormat::PackedExport: ck = load_export(model_path, tokenizer_path); break;
    case io::CheckpointFormat::Safetensors: ck = load_safetensors(model_path, tokenizer_path); break;
    case io::CheckpointFormat::Gguf: ck = load_gguf(model_path, tokenizer_path); break;
    case io::CheckpointFormat::Llama2c: ck = load_llama2c(model_path, tokenizer_path); break;
    }
    validate_tensors(ck);
    // Token ids index the embedding: a tokenizer larger than the embedding would read past it.
    // (Smaller is fine: embeddings are often padded to a multiple of 64 or 128.)
    if (ck.tokenizer && ck.tokenizer->vocab_size() > ck.config.vocab_size)
        throw InputError(model_path, "tokenizer has " + std::to_string(ck.tokenizer->vocab_size()) +
                                         " tokens but the model's vocabulary is " + std::to_string(ck.config.vocab_size));
    return ck;
}

Checkpoint dequantized_copy(const Checkpoint& ck) {
    Checkpoint out = ck;
    out.packed.clear();
    for (const auto& [name, p] : ck.packed) {
        const auto& g = p.view.grid;
        std::vector<float> dense(g.rows * g.cols);
        kernels::dequantize_reference(p.view, dense.data());
        out.tensors.emplace(name, io::HostTensor::from_floats(
                                      name, {static_cast<std::int64_t>(g.rows), static_cast<std::int64_t>(g.cols)},
                                      std::move(dense)));
    }
    return out;
}

}  // namespace scalebits::model
