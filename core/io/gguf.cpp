#include "core/io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace scalebits::io {

const char* gguf_type_name(GgufType t) {
    switch (t) {
        case GgufType::U8: return "uint8";
        case GgufType::I8: return "int8";
        case GgufType::U16: return "uint16";
        case GgufType::I16: return "int16";
        case GgufType::U32: return "uint32";
        case GgufType::I32: return "int32";
        case GgufType::F32: return "float32";
        case GgufType::BOOL: return "bool";
        case GgufType::STRING: return "string";
        case GgufType::ARRAY: return "array";
        case GgufType::U64: return "uint64";
        case GgufType::I64: return "int64";
        case GgufType::F64: return "float64";
    }
    return "?";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
        case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
            return true;
        default:
            return false;
    }
}

std::optional<DType> dtype_from_ggml(std::uint32_t t) {
    switch (t) {
        case 0: return DType::F32;
        case 1: return DType::F16;
        case 2: return DType::Q4_0;
        case 3: return DType::Q4_1;
        case 6: return DType::Q5_0;
        case 7: return DType::Q5_1;
        case 8: return DType::Q8_0;
        case 10: return DType::Q2_K;
        case 11: return DType::Q3_K;
        case 12: return DType::Q4_K;
        case 13: return DType::Q5_K;
        case 14: return DType::Q6_K;
        case 24: return DType::I8;
        case 25: return DType::I16;
        case 26: return DType::I32;
        case 27: return DType::I64;
        case 28: return DType::F64;
        case 30: return DType::BF16;
        default: return std::nullopt;
    }
}

namespace {

// Bounds-checked little-endian cursor over the file.
class Cursor {
public:
    Cursor(std::span<const std::uint8_t> b, const std::filesystem::path& src) : b_(b), src_(src) {}

    std::uint64_t pos() const { return pos_; }
    std::uint64_t remaining() const { return b_.size() - pos_; }

    void need(std::uint64_t n, const std::string& what) const {
        if (n > remaining())
            throw FormatError(src_, "truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                                        std::to_string(pos_) + ", " + std::to_string(remaining()) + " remain");
    }
    template <typename T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof(T));  // the host is little-endian (x86-64, aarch64)
        pos_ += sizeof(T);
        return v;
    }
    std::string string(const std::string& what) {
        const auto len = read<std::uint64_t>(what + " length");
        need(len, what + " (length " + std::to_string(len) + ")");
        std::string s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<std::size_t>(len));
        pos_ += len;
        return s;
    }

private:
    std::span<const std::uint8_t> b_;
    const std::filesystem::path& src_;
    std::uint64_t pos_ = 0;
};

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

// The fewest bytes one value of this type can occupy; bounds array counts before allocating.
std::uint64_t min_value_bytes(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        case GgufType::STRING: return 8;
        case GgufType::ARRAY: return 4 + 8;
    }
    return 1;
}

bool known_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufType::F64); }

constexpr int kMaxArrayNesting = 8;

GgufValue read_value(Cursor& c, GgufType type, const std::string& key, const std::filesystem::path& src, int depth) {
    GgufValue v;
    v.type = type;
    auto set_signed = [&](std::int64_t x) { v.i = x; v.u = static_cast<std::uint64_t>(x); };
    switch (type) {
        case GgufType::U8: v.u = c.read<std::uint8_t>(key); v.i = static_cast<std::int64_t>(v.u); break;
        case GgufType::I8: set_signed(c.read<std::int8_t>(key)); break;
        case GgufType::U16: v.u = c.read<std::uint16_t>(key); v.i = static_cast<std::int64_t>(v.u); break;
        case GgufType::I16: set_signed(c.read<std::int16_t>(key)); break;
        case GgufType::U32: v.u = c.read<std::uint32_t>(key); v.i = static_cast<std::int64_t>(v.u); break;
        case GgufType::I32: set_signed(c.read<std::int32_t>(key)); break;
        case GgufType::U64:
            v.u = c.read<std::uint64_t>(key);
            v.fits_i64 = v.u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
            v.i = static_cast<std::int64_t>(v.u);
            break;
        case GgufType::I64: set_signed(c.read<std::int64_t>(key)); break;
        case GgufType::F32: v.f = c.read<float>(key); break;
        case GgufType::F64: v.f = c.read<double>(key); break;
        case GgufType::BOOL: {
            const auto b = c.read<std::uint8_t>(key);
            if (b > 1) throw FormatError(src, "metadata '" + key + "': bool value " + std::to_string(b) + " is not 0 or 1");
            v.u = b;
            v.i = b;
            break;
        }
        case GgufType::STRING: v.s = c.string("metadata '" + key + "' string"); break;
        case GgufType::ARRAY: {
            if (depth >= kMaxArrayNesting)
                throw FormatError(src, "metadata '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayNesting));
            const auto et = c.read<std::uint32_t>(key + " array type");
            if (!known_type(et))
                throw FormatError(src, "metadata '" + key + "': unknown array element type " + std::to_string(et));
            v.elem_type = static_cast<GgufType>(et);
            const auto count = c.read<std::uint64_t>(key + " array count");
            if (count > c.remaining() / min_value_bytes(v.elem_type))
                throw FormatError(src, "metadata '" + key + "': array count " + std::to_string(count) +
                                           " cannot fit in the " + std::to_string(c.remaining()) + " bytes left");
            v.array.reserve(static_cast<std::size_t>(count));
            for (std::uint64_t k = 0; k < count; ++k) v.array.push_back(read_value(c, v.elem_type, key, src, depth + 1));
            break;
        }
    }
    return v;
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
}

std::optional<std::int64_t> GgufFile::get_int(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer() || !v->fits_i64)
        throw FormatError(source, "metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected an integer");
    return v->i;
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_float()) return v->f;
    if (v->is_integer()) return static_cast<double>(v->i);
    throw FormatError(source, "metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a number");
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufType::STRING)
        throw FormatError(source, "metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a string");
    return v->s;
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufType::BOOL)
        throw FormatError(source, "metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a bool");
    return v->u != 0;
}

const HostTensor* GgufFile::tensor(const std::string& name) const {
    for (const HostTensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

namespace {

struct Info {
    std::string name;
    std::uint32_t ggml_type;
    DType dtype;
    std::vector<std::int64_t> ne;  // ggml order
    std::uint64_t offset;
    std::uint64_t nbytes;
};

Info read_tensor_info(Cursor& c, const std::filesystem::path& src) {
    Info t;
    t.name = c.string("tensor name");
    const std::string where = "tensor '" + t.name + "'";
    const auto n_dims = c.read<std::uint32_t>(where + " n_dims");
    if (n_dims == 0 || n_dims > kGgufMaxDims)
        throw FormatError(src, where + ": n_dims " + std::to_string(n_dims) + " is not in 1.." + std::to_string(kGgufMaxDims));
    std::uint64_t numel = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
        const auto ne = c.read<std::uint64_t>(where + " dimension");
        if (ne == 0) throw FormatError(src, where + ": dimension " + std::to_string(d) + " is zero");
        if (ne > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / numel)
            throw FormatError(src, where + ": element count overflows 64 bits");
        numel *= ne;
        t.ne.push_back(static_cast<std::int64_t>(ne));
    }
    t.ggml_type = c.read<std::uint32_t>(where + " type");
    const auto dt = dtype_from_ggml(t.ggml_type);
    if (!dt) throw FormatError(src, where + ": unsupported ggml type " + std::to_string(t.ggml_type));
    t.dtype = *dt;
    const DTypeLayout l = dtype_layout(t.dtype);
    // Blocks never straddle rows: the row length must be a whole number of blocks.
    if (t.ne[0] % l.block_elems != 0)
        throw FormatError(src, where + ": row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                                   dtype_name(t.dtype) + " block size " + std::to_string(l.block_elems));
    const std::int64_t nbytes = dtype_bytes_for(t.dtype, static_cast<std::int64_t>(numel));
    if (nbytes < 0) throw FormatError(src, where + ": byte count overflows 64 bits");
    t.nbytes = static_cast<std::uint64_t>(nbytes);
    t.offset = c.read<std::uint64_t>(where + " offset");
    return t;
}

}  // namespace

GgufFile parse_gguf(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner,
                    const std::filesystem::path& source) {
    GgufFile f;
    f.source = source;
    Cursor c(bytes, source);
    c.need(4, "magic");
    if (std::memcmp(bytes.data(), "GGUF", 4) != 0) throw FormatError(source, "not a GGUF file (bad magic)");
    c.read<std::uint32_t>("magic");
    f.version = c.read<std::uint32_t>("version");
    if (f.version != 2 && f.version != 3)
        throw FormatError(source, "GGUF version " + std::to_string(f.version) + " is not supported (2 and 3 are)");
    const auto n_tensors = c.read<std::uint64_t>("tensor count");
    const auto n_kv = c.read<std::uint64_t>("metadata count");
    // A tensor info is at least 32 bytes (name length, n_dims, one dim, type, offset) and a key/value
    // pair at least 13 (key length, type, one byte): bound both counts by the bytes left.
    if (n_tensors > c.remaining() / 32)
        throw FormatError(source, "tensor count " + std::to_string(n_tensors) + " cannot fit in the file");
    if (n_kv > c.remaining() / 13)
        throw FormatError(source, "metadata count " + std::to_string(n_kv) + " cannot fit in the file");

    for (std::uint64_t k = 0; k < n_kv; ++k) {
        std::string key = c.string("metadata key");
        const auto type = c.read<std::uint32_t>("metadata '" + key + "' type");
        if (!known_type(type))
            throw FormatError(source, "metadata '" + key + "': unknown value type " + std::to_string(type));
        GgufValue v = read_value(c, static_cast<GgufType>(type), key, source, 0);
        if (!f.metadata.emplace(key, std::move(v)).second)
            throw FormatError(source, "duplicate metadata key '" + key + "'");
    }
    if (auto a = f.find("general.alignment")) {
        if (!a->is_integer() || !a->fits_i64 || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (1u << 30))
            throw FormatError(source, "general.alignment must be a power of two, got " +
                                          (a->is_integer() ? std::to_string(a->u) : std::string(gguf_type_name(a->type))));
        f.alignment = a->u;
    }

    std::vector<Info> infos;
    infos.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t k = 0; k < n_tensors; ++k) infos.push_back(read_tensor_info(c, source));

    f.data_offset = align_up(c.pos(), f.alignment);
    const std::uint64_t data_size = f.data_offset <= bytes.size() ? bytes.size() - f.data_offset : 0;
    if (!infos.empty() && f.data_offset > bytes.size())
        throw FormatError(source, "tensor data section starts past the end of the file");

    // Offsets: aligned, inside the data section, no two tensors share bytes, and the tensors tile the
    // section: each starts where the previous one ends, rounded up to the alignment (writers pad
    // every tensor to it), and nothing but that padding follows the last one.
    std::vector<std::size_t> order(infos.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return infos[a].offset < infos[b].offset; });
    std::uint64_t prev_end = 0;
    std::string prev_name;
    for (std::size_t k : order) {
        const Info& t = infos[k];
        const std::string where = "tensor '" + t.name + "'";
        if (t.offset % f.alignment != 0)
            throw FormatError(source, where + ": offset " + std::to_string(t.offset) + " is not aligned to " +
                                          std::to_string(f.alignment));
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            throw FormatError(source, where + ": data (" + std::to_string(t.nbytes) + " bytes at offset " +
                                          std::to_string(t.offset) + ") runs past the end of the file");
        if (t.offset < prev_end && !prev_name.empty())
            throw FormatError(source, where + " overlaps tensor '" + prev_name + "'");
        if (t.offset > align_up(prev_end, f.alignment))
            throw FormatError(source, "a gap of " + std::to_string(t.offset - prev_end) + " bytes before " + where);
        prev_end = t.offset + t.nbytes;
        prev_name = t.name;
    }
    const std::uint64_t used = infos.empty() ? 0 : align_up(prev_end, f.alignment);
    if (f.data_offset + used < bytes.size())
        throw FormatError(source, std::to_string(bytes.size() - f.data_offset - used) + " trailing bytes after the " +
                                      (infos.empty() ? std::string("header") : "last tensor"));

    f.tensors.reserve(infos.size());
    std::map<std::string, int> names;
    for (Info& t : infos) {
        if (!names.emplace(t.name, 0).second) throw FormatError(source, "duplicate tensor name '" + t.name + "'");
        HostTensor h;
        h.name = std::move(t.name);
        h.dtype = t.dtype;
        h.shape.assign(t.ne.rbegin(), t.ne.rend());  // PyTorch order: outermost first
        h.bytes = {bytes.data() + f.data_offset + t.offset, static_cast<std::size_t>(t.nbytes)};
        h.owner = owner;
        f.tensors.push_back(std::move(h));
        f.ggml_types.push_back(t.ggml_type);
    }
    return f;
}

GgufFile read_gguf(const std::filesystem::path& file) {
    auto map = MappedFile::open(file);
    GgufFile f = parse_gguf(map->bytes(), map, file);
    for (auto& t : f.tensors) t.file_mapped = true;
    return f;
}

}  // namespace scalebits::io
