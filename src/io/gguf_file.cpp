#include "io/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "util/error.h"

namespace alloy {

namespace {

// The fewest bytes one stored element of each kind can take: what bounds a count read from the
// file before anything is allocated for it.
constexpr uint64_t kMinStringBytes = 8;          // u64 length, empty text
constexpr uint64_t kMinArrayBytes = 4 + 8;       // u32 element type, u64 count
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;  // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset
constexpr uint64_t kMaxKeyBytes = 65535;

uint64_t load_le(const std::byte* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// A bounds-checked reader over the file image; every read names what it was reading.
class Cursor {
 public:
  Cursor(const std::byte* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  const std::byte* take(uint64_t n, std::string_view what) {
    if (n > left())
      fail("the file ends inside ", what, " (", n, " bytes needed at offset ", pos_, ", ", left(), " left)");
    const std::byte* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t uint(size_t bytes, std::string_view what) { return load_le(take(bytes, what), bytes); }
  uint32_t u32(std::string_view what) { return static_cast<uint32_t>(uint(4, what)); }
  uint64_t u64(std::string_view what) { return uint(8, what); }

  std::string string(std::string_view what) {
    const uint64_t length = u64(what);
    if (length > left())
      fail(what, " has length ", length, ", more than the ", left(), " bytes left in the file at offset ", pos_);
    const std::byte* p = take(length, what);
    return std::string(reinterpret_cast<const char*>(p), length);
  }

 private:
  const std::byte* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

GgufType value_type(uint32_t id, std::string_view what) {
  if (id >= kGgufTypeCount) fail(what, " has unknown value type ", id, " (GGUF defines 0 to ", kGgufTypeCount - 1, ")");
  return static_cast<GgufType>(id);
}

uint64_t min_bytes(GgufType t) {
  if (t == GgufType::STRING) return kMinStringBytes;
  if (t == GgufType::ARRAY) return kMinArrayBytes;
  return gguf_type_size(t);
}

struct MetadataReader {
  Cursor& in;
  uint64_t nested_arrays = 0;

  GgufValue value(GgufType type, const std::string& key, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufType::STRING:
        v.text = in.string(cat("the string value of '", key, "'"));
        return v;
      case GgufType::ARRAY:
        read_array(v, key, depth);
        return v;
      case GgufType::F32: {
        auto bits = in.u32(cat("the value of '", key, "'"));
        float f;
        std::memcpy(&f, &bits, 4);
        v.real = f;
        return v;
      }
      case GgufType::F64: {
        uint64_t bits = in.u64(cat("the value of '", key, "'"));
        std::memcpy(&v.real, &bits, 8);
        return v;
      }
      default:
        break;
    }
    const size_t size = gguf_type_size(type);
    const uint64_t bits = in.uint(size, cat("the value of '", key, "'"));
    v.unsigned_integer = bits;
    switch (type) {
      case GgufType::I8: v.integer = static_cast<int8_t>(bits); break;
      case GgufType::I16: v.integer = static_cast<int16_t>(bits); break;
      case GgufType::I32: v.integer = static_cast<int32_t>(bits); break;
      case GgufType::BOOL:
        if (bits > 1) fail("metadata key '", key, "': bool value is ", bits, " (only 0 and 1 are valid)");
        [[fallthrough]];
      default: v.integer = static_cast<int64_t>(bits); break;
    }
    if (type == GgufType::I8 || type == GgufType::I16 || type == GgufType::I32)
      v.unsigned_integer = static_cast<uint64_t>(v.integer);
    return v;
  }

  void read_array(GgufValue& v, const std::string& key, int depth) {
    if (depth >= kGgufMaxArrayDepth)
      fail("metadata key '", key, "': arrays nested more than ", kGgufMaxArrayDepth, " deep");
    v.element_type = value_type(in.u32(cat("the array type of '", key, "'")), cat("an array of metadata key '", key, "'"));
    v.count = in.u64(cat("the array length of '", key, "'"));
    const uint64_t each = min_bytes(v.element_type);
    if (v.count > in.left() / each)
      fail("metadata key '", key, "': array of ", v.count, " ", gguf_type_name(v.element_type), " elements needs at least ",
           each, " bytes each, but only ", in.left(), " bytes are left in the file");
    if (v.element_type == GgufType::STRING) {
      v.strings.reserve(v.count);
      for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(in.string(cat("element ", i, " of '", key, "'")));
    } else if (v.element_type == GgufType::ARRAY) {
      nested_arrays += v.count;
      if (nested_arrays > kGgufMaxNestedArrays)
        fail("metadata key '", key, "': more than ", kGgufMaxNestedArrays, " nested arrays in the file");
      v.arrays.reserve(v.count);
      for (uint64_t i = 0; i < v.count; ++i) v.arrays.push_back(value(GgufType::ARRAY, key, depth + 1));
    } else {
      const std::byte* p = in.take(v.count * each, cat("the array of '", key, "'"));
      v.raw.assign(p, p + v.count * each);
      if (v.element_type == GgufType::BOOL)
        for (uint64_t i = 0; i < v.count; ++i)
          if (static_cast<uint8_t>(v.raw[i]) > 1)
            fail("metadata key '", key, "': bool element ", i, " is ", static_cast<int>(v.raw[i]),
                 " (only 0 and 1 are valid)");
    }
  }
};

uint64_t alignment_of(const GgufHeader& h) {
  const GgufValue* v = h.find("general.alignment");
  if (!v) return kGgufDefaultAlignment;
  const std::optional<int64_t> n = v->as_int();
  if (!n || v->type == GgufType::BOOL)
    fail("metadata key 'general.alignment' is a ", gguf_type_name(v->type), ", not an unsigned integer");
  if (*n <= 0 || (*n & (*n - 1)) != 0 || *n > (int64_t{1} << 30))
    fail("metadata key 'general.alignment' is ", *n, "; it must be a power of two (32 by default)");
  return static_cast<uint64_t>(*n);
}

GgufTensorInfo read_tensor_info(Cursor& in, uint64_t index) {
  GgufTensorInfo t;
  t.name = in.string(cat("the name of tensor ", index));
  if (t.name.empty()) fail("tensor ", index, " has an empty name");
  if (t.name.size() > kGgufMaxTensorName)
    fail("tensor ", index, " has a name of ", t.name.size(), " bytes; ggml allows at most ", kGgufMaxTensorName);
  const std::string what = cat("tensor '", t.name, "'");
  const uint32_t n_dims = in.u32(cat("the dimension count of ", what));
  if (n_dims > kGgufMaxDims) fail(what, " has ", n_dims, " dimensions; ggml allows at most ", kGgufMaxDims);
  t.numel = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    const uint64_t d = in.u64(cat("the dimensions of ", what));
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(what, ": dimension ", i, " is ", d, ", beyond int64");
    if (d != 0 && t.numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d)
      fail(what, ": the element count overflows int64 (dimensions so far ", i + 1, ")");
    t.numel *= d;
    t.ne.push_back(d);
  }
  for (auto d = t.ne.rbegin(); d != t.ne.rend(); ++d) t.shape.push_back(static_cast<int64_t>(*d));
  const uint32_t type_id = in.u32(cat("the type of ", what));
  const GgmlTypeTraits* traits = ggml_type_traits(type_id);
  if (!traits) fail(what, " has unknown ggml type id ", type_id);
  t.type = traits->type;
  if (t.row_length() % traits->block_elements != 0)
    fail(what, ": its row length ", t.row_length(), " (ne[0]) is not a multiple of ", traits->name, "'s block size ",
         traits->block_elements);
  const uint64_t blocks = t.numel / traits->block_elements;
  if (blocks != 0 && traits->block_bytes > std::numeric_limits<uint64_t>::max() / blocks)
    fail(what, ": its byte size overflows 64 bits");
  t.nbytes = blocks * traits->block_bytes;
  t.offset = in.u64(cat("the data offset of ", what));
  return t;
}

}  // namespace

uint64_t GgufTensorInfo::row_bytes() const {
  const GgmlTypeTraits& t = traits(type);
  return row_length() / t.block_elements * t.block_bytes;
}

const GgufValue* GgufHeader::find(std::string_view key) const {
  for (const auto& kv : metadata)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

GgufHeader parse_gguf_header(const std::byte* file, uint64_t file_size) {
  Cursor in(file, file_size);
  const std::byte* magic = in.take(4, "the magic bytes");
  if (std::memcmp(magic, "GGUF", 4) != 0) fail("not a GGUF file (it does not start with the bytes \"GGUF\")");
  GgufHeader h;
  h.version = in.u32("the version");
  const uint32_t swapped = __builtin_bswap32(h.version);
  if (h.version == 1) fail("GGUF version 1 is not supported (it predates 64-bit counts): re-convert it with a current llama.cpp");
  if (h.version != 2 && h.version != 3) {
    if (swapped == 2 || swapped == 3) fail("big-endian GGUF files are not supported");
    fail("unsupported GGUF version ", h.version, " (alloy reads versions 2 and 3)");
  }
  const uint64_t tensor_count = in.u64("the tensor count");
  const uint64_t kv_count = in.u64("the metadata count");
  if (kv_count > in.left() / kMinKeyValueBytes)
    fail("metadata count ", kv_count, " is impossible: ", in.left(), " bytes are left for the key/value pairs");

  MetadataReader reader{in};
  h.metadata.reserve(kv_count);
  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.string(cat("metadata key ", i));
    if (key.empty()) fail("metadata key ", i, " is empty");
    if (key.size() > kMaxKeyBytes) fail("metadata key ", i, " is ", key.size(), " bytes long (at most ", kMaxKeyBytes, ")");
    if (!keys.insert(key).second) fail("metadata key '", key, "' appears twice");
    const GgufType type = value_type(in.u32(cat("the type of metadata key '", key, "'")), cat("metadata key '", key, "'"));
    GgufValue value = reader.value(type, key, 0);
    h.metadata.push_back({std::move(key), std::move(value)});
  }
  h.alignment = alignment_of(h);

  if (tensor_count > in.left() / kMinTensorInfoBytes)
    fail("tensor count ", tensor_count, " is impossible: ", in.left(), " bytes are left for the tensor infos");
  h.tensors.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) h.tensors.push_back(read_tensor_info(in, i));

  // The data section starts at the next multiple of the alignment (no overflow: pos <= file size
  // and the alignment is at most 2^30).
  h.data_start = (in.pos() + h.alignment - 1) / h.alignment * h.alignment;
  if (!h.tensors.empty() && h.data_start > file_size)
    fail("the file ends before its data section (which starts at offset ", h.data_start, ", file size ", file_size, ")");
  const uint64_t data_size = h.tensors.empty() ? 0 : file_size - h.data_start;

  std::vector<size_t> order(h.tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  {
    std::unordered_map<std::string_view, size_t> seen;
    for (auto& t : h.tensors) {
      if (!seen.emplace(t.name, 0).second) fail("tensor '", t.name, "' appears twice");
      if (t.offset % h.alignment != 0)
        fail("tensor '", t.name, "': data offset ", t.offset, " is not a multiple of the alignment ", h.alignment);
      if (t.offset > data_size || t.nbytes > data_size - t.offset)
        fail("tensor '", t.name, "': its ", t.nbytes, " bytes at data offset ", t.offset, " run past the end of the file (",
             data_size, " bytes of data)");
      t.file_offset = h.data_start + t.offset;
    }
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return h.tensors[a].offset < h.tensors[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const GgufTensorInfo& prev = h.tensors[order[i - 1]];
    const GgufTensorInfo& cur = h.tensors[order[i]];
    if (cur.offset < prev.offset + prev.nbytes && cur.nbytes > 0 && prev.nbytes > 0)
      fail("tensors '", prev.name, "' and '", cur.name, "' overlap (data offsets ", prev.offset, " and ", cur.offset, ")");
  }
  return h;
}

std::shared_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  auto f = std::make_shared<GgufFile>();
  f->map_ = MappedFile(path);
  try {
    f->header_ = parse_gguf_header(f->map_.data(), f->map_.size());
  } catch (const std::exception& e) {
    rethrow_with(path.string(), e);
  }
  for (size_t i = 0; i < f->header_.tensors.size(); ++i) f->by_name_.emplace(f->header_.tensors[i].name, i);
  return f;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &header_.tensors[it->second];
}

}  // namespace alloy
