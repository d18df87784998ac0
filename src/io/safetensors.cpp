#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "os/page_hints.h"
#include "util/error.h"

namespace alloy {

using nlohmann::json;

namespace {

// Headers nest three levels deep (root, entry, shape); anything far deeper is refused before
// it can make printing or destroying the parsed value recurse without bound.
constexpr int kMaxHeaderDepth = 16;

// dtype names of the safetensors format that alloy does not read (yet); named in errors so a
// user can tell an unsupported file from a corrupt one.
constexpr std::string_view kUnsupportedDtypes[] = {"U16", "U32", "U64", "C64", "F8_E4M3FNUZ",
                                                  "F8_E5M2FNUZ", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"};

uint64_t read_u64_le(const std::byte* p) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(p[i]);
  return n;
}

// Length of the UTF-8 sequence that lead byte `c` starts (0 for a byte that cannot lead one),
// and the smallest code point that length may encode (anything smaller is an overlong form).
struct Utf8Lead {
  size_t length;
  uint32_t min_code_point;
  uint32_t payload;  // the lead byte's code point bits
};
Utf8Lead utf8_lead(uint8_t c) {
  if (c < 0x80) return {1, 0, c};
  if ((c & 0xe0) == 0xc0) return {2, 0x80, c & 0x1fu};
  if ((c & 0xf0) == 0xe0) return {3, 0x800, c & 0x0fu};
  if ((c & 0xf8) == 0xf0) return {4, 0x10000, c & 0x07u};
  return {0, 0, 0};
}

// Offset of the first byte of `text` that is not part of well-formed UTF-8 (no overlong forms,
// no surrogates, nothing above U+10FFFF), or npos when all of it is.
size_t invalid_utf8_offset(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    Utf8Lead lead = utf8_lead(static_cast<uint8_t>(text[i]));
    if (lead.length == 0 || text.size() - i < lead.length) return i;
    uint32_t cp = lead.payload;
    for (size_t k = 1; k < lead.length; ++k) {
      auto c = static_cast<uint8_t>(text[i + k]);
      if ((c & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < lead.min_code_point || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += lead.length;
  }
  return std::string_view::npos;
}

// nlohmann's messages start with "[json.exception.parse_error.101] " and may quote a long token;
// keep the useful part and one line of bounded length.
std::string brief_json_error(const json::exception& e) {
  std::string m = e.what();
  if (auto close = m.find("] "); m.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
    m.erase(0, close + 2);
  for (char& c : m)
    if (c == '\n' || c == '\r') c = ' ';
  if (m.size() > 200) m = m.substr(0, 200) + "...";
  return m;
}

// Parses the header text into a JSON object, refusing duplicate top-level keys (the plain parser
// keeps the last one silently) and absurd nesting.
json parse_header_json(std::string_view text) {
  if (size_t bad = invalid_utf8_offset(text); bad != std::string_view::npos)
    fail("header is not valid UTF-8 (bad byte 0x", std::hex, static_cast<int>(static_cast<uint8_t>(text[bad])),
         std::dec, " at header offset ", bad, ")");
  if (text.size() < 2 || text[0] != '{') fail("header is not a JSON object (it must start with '{')");
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t watch = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxHeaderDepth)
      fail("header JSON is nested too deeply (more than ", kMaxHeaderDepth, " levels)");
    if (depth == 1 && event == json::parse_event_t::key && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), watch);
  } catch (const json::exception& e) {
    fail("header is not valid JSON: ", brief_json_error(e));
  }
  if (!header.is_object()) fail("header is not a JSON object");
  if (!duplicate.empty()) fail("key '", duplicate, "' appears twice in the header");
  return header;
}

DType parse_dtype(const std::string& where, const std::string& name) {
  if (auto dtype = dtype_from_safetensors(name)) return *dtype;
  for (auto unsupported : kUnsupportedDtypes)
    if (name == unsupported) fail(where, ": dtype '", name, "' is not supported by alloy");
  fail(where, ": unknown dtype '", name, "'");
}

// Element count of a JSON shape; every dimension a non-negative integer, the product within int64.
Shape parse_shape(const std::string& where, const json& shape, uint64_t& elements) {
  Shape out;
  elements = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned())
      fail(where, ": shape ", shape.dump(), " has a non-integer or negative dimension");
    uint64_t dim = d.get<uint64_t>();
    if (__builtin_mul_overflow(elements, dim, &elements) || elements > static_cast<uint64_t>(INT64_MAX) ||
        dim > static_cast<uint64_t>(INT64_MAX))
      fail(where, ": element count of shape ", shape.dump(), " overflows 64 bits");
    out.push_back(static_cast<int64_t>(dim));
  }
  return out;
}

SafetensorsEntry parse_entry(const std::string& name, const json& v) {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object()) fail(where, ": header entry is not an object");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) fail(where, ": missing or non-string 'dtype'");
  if (sh == v.end() || !sh->is_array()) fail(where, ": missing or non-array 'shape'");
  if (off == v.end() || !off->is_array() || off->size() != 2)
    fail(where, ": 'data_offsets' must be [begin, end]");
  SafetensorsEntry e;
  e.name = name;
  e.dtype = parse_dtype(where, dt->get<std::string>());
  uint64_t elements = 0;
  e.shape = parse_shape(where, *sh, elements);
  for (const auto& o : *off)
    if (!o.is_number_unsigned()) fail(where, ": data_offsets ", off->dump(), " are not non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin) fail(where, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  uint64_t bytes;
  if (__builtin_mul_overflow(elements, dtype_size(e.dtype), &bytes))
    fail(where, ": byte size of shape ", shape_str(e.shape), " of ", dtype_name(e.dtype), " overflows 64 bits");
  if (e.end - e.begin != bytes)
    fail(where, ": shape ", shape_str(e.shape), " of ", dtype_name(e.dtype), " needs ", bytes,
         " bytes but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& v) {
  if (!v.is_object()) fail("__metadata__ is not an object");
  std::map<std::string, std::string> out;
  for (auto m = v.begin(); m != v.end(); ++m) {
    if (!m->is_string()) fail("__metadata__ value for '", m.key(), "' is not a string");
    out[m.key()] = m->get<std::string>();
  }
  return out;
}

// Entries sorted by offset must tile [0, data_size) exactly: no hole, no overlap, no tail.
void check_tiling(const std::vector<SafetensorsEntry>& sorted, uint64_t data_size) {
  uint64_t expect = 0;
  for (const auto& e : sorted) {
    if (e.begin < expect)
      fail("tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end, "] overlap the previous tensor");
    if (e.begin > expect)
      fail("hole in the data buffer before tensor '", e.name, "' (bytes ", expect, "..", e.begin, ")");
    expect = e.end;
  }
  if (expect != data_size)
    fail("tensors cover ", expect, " bytes of data but the file holds ", data_size, " (trailing bytes)");
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::byte* file, uint64_t file_size) {
  if (file_size < 8) fail("file is ", file_size, " bytes, too short for a safetensors header length");
  uint64_t n = read_u64_le(file);
  if (n > kMaxSafetensorsHeader)
    fail("header length ", n, " exceeds the 100 MB limit (corrupt or not a safetensors file)");
  if (n > file_size - 8)
    fail("header length ", n, " runs past the end of the file (", file_size, " bytes): truncated?");
  json header = parse_header_json(std::string_view(reinterpret_cast<const char*>(file + 8), n));

  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = file_size - out.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      out.metadata = parse_metadata(*it);
      continue;
    }
    SafetensorsEntry e = parse_entry(it.key(), *it);
    if (e.end > data_size)
      fail("tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end, "] run past the end of the data (",
           data_size, " bytes): truncated file?");
    out.entries.push_back(std::move(e));
  }
  std::sort(out.entries.begin(), out.entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  check_tiling(out.entries, data_size);
  return out;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto f = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  f->map_ = MappedFile(path);
  try {
    f->header_ = parse_safetensors_header(f->map_.data(), f->map_.size());
  } catch (const Error& e) {
    rethrow_with(path.string(), e);
  }
  for (size_t i = 0; i < f->header_.entries.size(); ++i) f->by_name_[f->header_.entries[i].name] = i;
  // Parsed into header_: its pages need not stay mapped. The page cache drops no page a process
  // maps, so a merge that drops its inputs' pages as it goes (deferred_drops.h) could not drop the
  // folio the header shares with the first tensor while the header (8-20 KB in a 7B model's
  // shards, more than the page it shares) stayed mapped.
  release_pages(f->map_.data(), f->header_.data_start);
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &header_.entries[it->second];
}

TensorView SafetensorsFile::view(const SafetensorsEntry& e) const {
  TensorView v;
  v.dtype = e.dtype;
  v.shape = e.shape;
  v.data = map_.data() + header_.data_start + e.begin;
  v.nbytes = e.end - e.begin;
  v.file_mapped = true;
  return v;
}

void sort_for_alignment(std::vector<SafetensorsEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    size_t sa = dtype_size(a.dtype), sb = dtype_size(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });
}

std::string build_safetensors_header(std::vector<SafetensorsEntry>& entries,
                                     const std::map<std::string, std::string>& metadata) {
  json::object_t root;
  json::object_t meta;
  for (const auto& [k, v] : metadata) meta[k] = v;
  meta["format"] = "pt";
  root["__metadata__"] = meta;
  uint64_t offset = 0;
  for (auto& e : entries) {
    uint64_t bytes = static_cast<uint64_t>(numel(e.shape)) * dtype_size(e.dtype);
    e.begin = offset;
    e.end = offset + bytes;
    offset = e.end;
    json shape = json::array();
    for (int64_t d : e.shape) shape.push_back(d);
    root[e.name] = json{{"dtype", std::string(dtype_name(e.dtype))},
                        {"shape", shape},
                        {"data_offsets", json::array({e.begin, e.end})}};
  }
  std::string text = json(root).dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + text;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  std::unordered_map<std::string, const TensorView*> views;
  for (const auto& t : tensors) {
    if (!views.emplace(t.name, &t.view).second) fail(path.string(), ": tensor '", t.name, "' given twice");
    entries.push_back({t.name, t.view.dtype, t.view.shape, 0, 0});
  }
  sort_for_alignment(entries);
  std::string header = build_safetensors_header(entries, metadata);
  // Checked before the file is created, so that bad input leaves nothing behind.
  for (const auto& e : entries)
    if (views.at(e.name)->nbytes != e.end - e.begin)
      fail(path.string(), ": tensor '", e.name, "' has ", views.at(e.name)->nbytes, " bytes, shape ",
           shape_str(e.shape), " of ", dtype_name(e.dtype), " needs ", e.end - e.begin);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), ": cannot create file");
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& e : entries) {
    const TensorView* v = views.at(e.name);
    out.write(reinterpret_cast<const char*>(v->data), static_cast<std::streamsize>(v->nbytes));
  }
  out.flush();
  if (!out) fail(path.string(), ": write failed");
}

}  // namespace alloy
