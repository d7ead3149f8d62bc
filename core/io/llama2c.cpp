#include "core/io/llama2c.h"

#include <cstring>
#include <limits>

#include "core/io/mapped_file.h"
#include "core/io/rope_layout.h"
#include "core/util/error.h"

namespace scalebits::io {

std::optional<Llama2cHeader> llama2c_header(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < kLlama2cHeaderBytes) return std::nullopt;
    std::int32_t v[7];
    std::memcpy(v, bytes.data(), sizeof v);
    Llama2cHeader h{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[5] > 0};
    if (h.vocab_size < 0 && h.vocab_size != std::numeric_limits<std::int32_t>::min()) h.vocab_size = -h.vocab_size;
    return h;
}

namespace {

// Element counts of each weight array in file order (run.c memory_map_weights).
struct Layout {
    std::int64_t head_size, q_rows, kv_rows;
    std::int64_t embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq, wcls;
};

std::optional<Layout> layout_of(const Llama2cHeader& h) {
    if (h.dim <= 0 || h.hidden_dim <= 0 || h.n_layers <= 0 || h.n_heads <= 0 || h.n_kv_heads <= 0 ||
        h.vocab_size <= 0 || h.seq_len <= 0)
        return std::nullopt;
    if (h.dim % h.n_heads != 0 || h.n_heads % h.n_kv_heads != 0) return std::nullopt;
    Layout l{};
    // All factors are below 2^31, so products of two fit; products of three are checked below.
    const std::int64_t dim = h.dim, hid = h.hidden_dim, L = h.n_layers, V = h.vocab_size;
    l.head_size = dim / h.n_heads;
    if (l.head_size % 2 != 0) return std::nullopt;
    l.q_rows = h.n_heads * l.head_size;
    l.kv_rows = static_cast<std::int64_t>(h.n_kv_heads) * l.head_size;
    auto mul3 = [](std::int64_t a, std::int64_t b, std::int64_t c) -> std::int64_t {
        const std::int64_t ab = a * b;
        if (c != 0 && ab > std::numeric_limits<std::int64_t>::max() / 64 / c) return -1;
        return ab * c;
    };
    l.embed = V * dim;
    l.rms_att = L * dim;
    l.wq = mul3(L, dim, l.q_rows);
    l.wk = mul3(L, dim, l.kv_rows);
    l.wv = l.wk;
    l.wo = l.wq;
    l.rms_ffn = L * dim;
    l.w1 = mul3(L, dim, hid);
    l.w2 = l.w1;
    l.w3 = l.w1;
    l.rms_final = dim;
    l.freq = static_cast<std::int64_t>(h.seq_len) * (l.head_size / 2) * 2;  // freq_cis_real and _imag
    l.wcls = h.shared_classifier ? 0 : V * dim;
    if (l.wq < 0 || l.wk < 0 || l.w1 < 0) return std::nullopt;
    return l;
}

}  // namespace

std::int64_t llama2c_expected_size(const Llama2cHeader& h) {
    const auto l = layout_of(h);
    if (!l) return -1;
    const std::int64_t floats = l->embed + l->rms_att + l->wq + l->wk + l->wv + l->wo + l->rms_ffn + l->w1 + l->w2 +
                                l->w3 + l->rms_final + l->freq + l->wcls;
    if (floats > (std::numeric_limits<std::int64_t>::max() - 28) / 4) return -1;
    return static_cast<std::int64_t>(kLlama2cHeaderBytes) + floats * 4;
}

Llama2cModel read_llama2c(const std::filesystem::path& file) {
    auto map = MappedFile::open(file);
    const auto h = llama2c_header(map->bytes());
    if (!h) throw FormatError(file, "file is shorter than the 28-byte llama2.c header");
    const auto l = layout_of(*h);
    if (!l)
        throw FormatError(file, "llama2.c header is implausible (dim " + std::to_string(h->dim) + ", heads " +
                                    std::to_string(h->n_heads) + ", kv heads " + std::to_string(h->n_kv_heads) + ")");
    const std::int64_t want = llama2c_expected_size(*h);
    if (want < 0 || static_cast<std::uint64_t>(want) != map->size())
        throw FormatError(file, "file is " + std::to_string(map->size()) + " bytes but its llama2.c header implies " +
                                    std::to_string(want));

    Llama2cModel m;
    model::ModelConfig& c = m.config;

    c.dim = h->dim;
    c.hidden_dim = h->hidden_dim;
    c.n_layers = h->n_layers;
    c.n_heads = h->n_heads;
    c.n_kv_heads = h->n_kv_heads;
    c.head_dim = l->head_size;
    c.vocab_size = h->vocab_size;
    c.max_seq_len = h->seq_len;
    c.rms_norm_eps = 1e-5;  // run.c hard-codes these two
    c.rope_theta = 10000.0;
    c.tie_word_embeddings = h->shared_classifier;
    c.validate(file.string());

    const float* base = reinterpret_cast<const float*>(map->data() + kLlama2cHeaderBytes);
    std::int64_t cursor = 0;  // in floats
    auto take = [&](std::int64_t count) {
        const float* p = base + cursor;
        cursor += count;
        return p;
    };
    auto span_tensor = [&](const std::string& name, std::vector<std::int64_t> shape, const float* p) {
        HostTensor t;
        t.name = name;
        t.dtype = DType::F32;
        t.shape = std::move(shape);
        t.bytes = {reinterpret_cast<const std::uint8_t*>(p), static_cast<std::size_t>(t.numel()) * 4};
        t.owner = map;
        t.file_mapped = true;
        return t;
    };
    auto layer = [](std::int64_t i, const char* rest) { return "model.layers." + std::to_string(i) + "." + rest; };
    const std::int64_t L = c.n_layers, dim = c.dim, hid = c.hidden_dim;
    auto add = [&](HostTensor t) { m.tensors.emplace(t.name, std::move(t)); };

    add(span_tensor("model.embed_tokens.weight", {c.vocab_size, dim}, take(l->embed)));
    // Each stacked array holds the layers back to back.
    auto per_layer = [&](const char* name, std::vector<std::int64_t> shape, std::int64_t total, bool rope_heads,
                         std::int64_t heads) {
        const float* p = take(total);
        const std::int64_t each = total / L;
        for (std::int64_t i = 0; i < L; ++i) {
            HostTensor t = span_tensor(layer(i, name), shape, p + i * each);
            if (rope_heads) t = interleaved_to_rotate_half(t, heads, c.head_dim, file);
            add(std::move(t));
        }
    };
    per_layer("input_layernorm.weight", {dim}, l->rms_att, false, 0);
    per_layer("self_attn.q_proj.weight", {l->q_rows, dim}, l->wq, true, c.n_heads);
    per_layer("self_attn.k_proj.weight", {l->kv_rows, dim}, l->wk, true, c.n_kv_heads);
    per_layer("self_attn.v_proj.weight", {l->kv_rows, dim}, l->wv, false, 0);
    per_layer("self_attn.o_proj.weight", {dim, l->q_rows}, l->wo, false, 0);
    per_layer("post_attention_layernorm.weight", {dim}, l->rms_ffn, false, 0);
    per_layer("mlp.gate_proj.weight", {hid, dim}, l->w1, false, 0);
    per_layer("mlp.down_proj.weight", {dim, hid}, l->w2, false, 0);
    per_layer("mlp.up_proj.weight", {hid, dim}, l->w3, false, 0);
    add(span_tensor("model.norm.weight", {dim}, take(l->rms_final)));
    take(l->freq);  // precomputed RoPE tables: recomputed by the model
    if (!h->shared_classifier) add(span_tensor("lm_head.weight", {c.vocab_size, dim}, take(l->wcls)));
    return m;
}

std::optional<std::filesystem::path> find_llama2c_tokenizer(const std::filesystem::path& model_file,
                                                            std::int64_t vocab_size,
                                                            const std::optional<std::filesystem::path>& explicit_path) {
    if (explicit_path) return explicit_path;
    const auto dir = model_file.parent_path();
    for (const auto& candidate : {dir / "tokenizer.bin", dir / ("tok" + std::to_string(vocab_size) + ".bin")})
        if (std::filesystem::is_regular_file(candidate)) return candidate;
    return std::nullopt;
}

}  // namespace scalebits::io
