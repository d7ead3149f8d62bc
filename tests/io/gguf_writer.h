#pragma once
// A small GGUF v3 writer for tests. It writes valid files by default; the public fields let a test
// break exactly one thing (a count, an offset, the alignment) and keep the rest well formed.
#include <optional>
#include <string>
#include <vector>

#include "core/io/ggml_dequant.h"
#include "test_bytes.h"

namespace scalebits::testing {

enum : std::uint32_t {
    kGU8 = 0, kGI8, kGU16, kGI16, kGU32, kGI32, kGF32, kGBool, kGString, kGArray, kGU64, kGI64, kGF64
};

struct GgufTensorSpec {
    std::string name;
    std::vector<std::uint64_t> ne;  // ggml order: ne[0] is the row length
    std::uint32_t ggml_type = 0;    // 0 = F32
    Bytes data;
    std::optional<std::uint64_t> offset;  // default: packed after the previous tensor, aligned
};

class GgufWriter {
public:
    std::uint32_t version = 3;
    std::uint64_t alignment = 32;  // used for layout; add general.alignment yourself to change it in the file
    std::optional<std::uint64_t> tensor_count_override;
    std::optional<std::uint64_t> kv_count_override;
    std::vector<GgufTensorSpec> tensors;

    static void put_string(Bytes& b, const std::string& s) {
        put<std::uint64_t>(b, s.size());
        put_bytes(b, s.data(), s.size());
    }

    // Adds one key with an already encoded value (type id then value bytes).
    void kv_raw(const std::string& key, std::uint32_t type, const Bytes& value) {
        put_string(kv_, key);
        put<std::uint32_t>(kv_, type);
        kv_.insert(kv_.end(), value.begin(), value.end());
        ++n_kv_;
    }
    void kv_u32(const std::string& key, std::uint32_t v) { Bytes b; put(b, v); kv_raw(key, kGU32, b); }
    void kv_i32(const std::string& key, std::int32_t v) { Bytes b; put(b, v); kv_raw(key, kGI32, b); }
    void kv_u64(const std::string& key, std::uint64_t v) { Bytes b; put(b, v); kv_raw(key, kGU64, b); }
    void kv_f32(const std::string& key, float v) { Bytes b; put(b, v); kv_raw(key, kGF32, b); }
    void kv_bool(const std::string& key, bool v) { Bytes b; put<std::uint8_t>(b, v ? 1 : 0); kv_raw(key, kGBool, b); }
    void kv_string(const std::string& key, const std::string& v) { Bytes b; put_string(b, v); kv_raw(key, kGString, b); }
    void kv_strings(const std::string& key, const std::vector<std::string>& v) {
        Bytes b;
        put<std::uint32_t>(b, kGString);
        put<std::uint64_t>(b, v.size());
        for (const auto& s : v) put_string(b, s);
        kv_raw(key, kGArray, b);
    }
    void kv_f32s(const std::string& key, const std::vector<float>& v) {
        Bytes b;
        put<std::uint32_t>(b, kGF32);
        put<std::uint64_t>(b, v.size());
        for (float x : v) put(b, x);
        kv_raw(key, kGArray, b);
    }
    void kv_i32s(const std::string& key, const std::vector<std::int32_t>& v) {
        Bytes b;
        put<std::uint32_t>(b, kGI32);
        put<std::uint64_t>(b, v.size());
        for (std::int32_t x : v) put(b, x);
        kv_raw(key, kGArray, b);
    }

    void add_f32(const std::string& name, std::vector<std::uint64_t> ne, const std::vector<float>& values) {
        GgufTensorSpec t{name, std::move(ne), 0, {}, std::nullopt};
        put_floats(t.data, values);
        tensors.push_back(std::move(t));
    }

    Bytes bytes() const {
        Bytes b;
        put_bytes(b, "GGUF", 4);
        put<std::uint32_t>(b, version);
        put<std::uint64_t>(b, tensor_count_override.value_or(tensors.size()));
        put<std::uint64_t>(b, kv_count_override.value_or(n_kv_));
        b.insert(b.end(), kv_.begin(), kv_.end());
        std::vector<std::uint64_t> offsets;
        std::uint64_t next = 0;
        for (const auto& t : tensors) {
            const std::uint64_t off = t.offset.value_or(next);
            offsets.push_back(off);
            next = align(off + t.data.size());
        }
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const auto& t = tensors[i];
            put_string(b, t.name);
            put<std::uint32_t>(b, static_cast<std::uint32_t>(t.ne.size()));
            for (auto d : t.ne) put<std::uint64_t>(b, d);
            put<std::uint32_t>(b, t.ggml_type);
            put<std::uint64_t>(b, offsets[i]);
        }
        b.resize(align(b.size()), 0);
        const std::size_t data_start = b.size();
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const std::size_t at = data_start + offsets[i];
            if (b.size() < at + tensors[i].data.size()) b.resize(at + tensors[i].data.size(), 0);
            if (!tensors[i].data.empty()) std::memcpy(b.data() + at, tensors[i].data.data(), tensors[i].data.size());
        }
        return b;
    }

private:
    std::uint64_t align(std::uint64_t x) const { return alignment ? (x + alignment - 1) / alignment * alignment : x; }
    Bytes kv_;
    std::uint64_t n_kv_ = 0;
};

inline std::vector<float> ramp(std::size_t n, float scale = 0.01f) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * scale - 1.0f;
    return v;
}

// Q8_0 rows of one block each (d = 1) whose values differ from row to row, so a row permutation shows.
inline Bytes q8_rows(int rows) {
    Bytes b;
    for (int r = 0; r < rows; ++r) {
        put<std::uint16_t>(b, io::ggml::fp32_to_fp16(1.0f));
        for (int j = 0; j < 32; ++j) put<std::int8_t>(b, static_cast<std::int8_t>(r * 3 + (j % 3) - 64));
    }
    return b;
}

// A 1-layer llama: dim 32, 4 heads of 8, 2 KV heads, ffn 64, vocab 16 (the embedding rows), tied
// output, a gpt2-style vocabulary of n_tokens tokens ("a", "b", "ab", "t3", "t4", ...)
inline GgufWriter tiny_llama(int n_tokens = 16) {
    GgufWriter w;
    w.kv_string("general.architecture", "llama");
    w.kv_u32("llama.embedding_length", 32);
    w.kv_u32("llama.feed_forward_length", 64);
    w.kv_u32("llama.block_count", 1);
    w.kv_u32("llama.attention.head_count", 4);
    w.kv_u32("llama.attention.head_count_kv", 2);
    w.kv_u32("llama.rope.dimension_count", 8);
    w.kv_u32("llama.context_length", 128);
    w.kv_u32("llama.vocab_size", 16);
    w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.kv_f32("llama.rope.freq_base", 100000.0f);
    std::vector<std::string> tokens = {"a", "b", "ab"};  // one merge: "a b" -> "ab"
    // Appended, not "t" + to_string(i): GCC 12 warns falsely (-Wstringop-overflow) on that operator+.
    for (int i = 3; i < n_tokens; ++i) tokens.push_back(std::string("t").append(std::to_string(i)));
    w.kv_string("tokenizer.ggml.model", "gpt2");
    w.kv_string("tokenizer.ggml.pre", "smollm");
    w.kv_strings("tokenizer.ggml.tokens", tokens);
    w.kv_i32s("tokenizer.ggml.token_type", std::vector<std::int32_t>(static_cast<std::size_t>(n_tokens), 1));
    w.kv_strings("tokenizer.ggml.merges", {"a b"});
    w.kv_u32("tokenizer.ggml.bos_token_id", 1);
    w.kv_u32("tokenizer.ggml.eos_token_id", 2);
    w.add_f32("token_embd.weight", {32, 16}, ramp(32 * 16));
    w.add_f32("blk.0.attn_norm.weight", {32}, ramp(32));
    w.tensors.push_back({"blk.0.attn_q.weight", {32, 32}, 8, q8_rows(32), std::nullopt});
    w.add_f32("blk.0.attn_k.weight", {32, 16}, ramp(32 * 16, 0.5f));
    w.add_f32("blk.0.attn_v.weight", {32, 16}, ramp(32 * 16));
    w.add_f32("blk.0.attn_output.weight", {32, 32}, ramp(32 * 32));
    w.add_f32("blk.0.ffn_gate.weight", {32, 64}, ramp(32 * 64));
    w.add_f32("blk.0.ffn_up.weight", {32, 64}, ramp(32 * 64));
    w.add_f32("blk.0.ffn_down.weight", {64, 32}, ramp(64 * 32));
    w.add_f32("blk.0.ffn_norm.weight", {32}, ramp(32));
    w.add_f32("output_norm.weight", {32}, ramp(32));
    return w;
}

}  // namespace scalebits::testing
