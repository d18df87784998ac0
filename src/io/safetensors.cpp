#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"

namespace alloy {

using nlohmann::json;

namespace {

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(what, ": size overflows 64 bits");
  return r;
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
  auto dtype = dtype_from_safetensors(dt->get<std::string>());
  if (!dtype) fail(where, ": unknown dtype '", dt->get<std::string>(), "'");
  e.dtype = *dtype;
  uint64_t elements = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) fail(where, ": shape ", sh->dump(), " has a non-integer or negative dimension");
    uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT64_MAX)) fail(where, ": dimension ", dim, " is absurd");
    elements = checked_mul(elements, dim, where);
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  for (const auto& o : *off)
    if (!o.is_number_unsigned()) fail(where, ": data_offsets ", off->dump(), " are not non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin) fail(where, ": data_offsets ", off->dump(), " end before they begin");
  uint64_t bytes = checked_mul(elements, dtype_size(e.dtype), where);
  if (e.end - e.begin != bytes)
    fail(where, ": shape ", shape_str(e.shape), " of ", dtype_name(e.dtype), " needs ", bytes,
         " bytes but data_offsets ", off->dump(), " span ", e.end - e.begin);
  return e;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::byte* file, uint64_t file_size) {
  if (file_size < 8) fail("file is ", file_size, " bytes, too short for a safetensors header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(file[i]);
  if (n > kMaxSafetensorsHeader)
    fail("header length ", n, " exceeds the 100 MB limit (corrupt or not a safetensors file)");
  if (n > file_size - 8)
    fail("header length ", n, " runs past the end of the file (", file_size, " bytes): truncated?");
  if (n < 2 || static_cast<char>(file[8]) != '{') fail("header is not a JSON object");

  // A parser callback sees every key, so duplicate tensor names can be refused (the plain parser
  // would keep the last one silently).
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key) {
      auto key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  const char* text = reinterpret_cast<const char*>(file + 8);
  json header;
  try {
    header = json::parse(text, text + n, cb);
  } catch (const json::exception& e) {
    fail("header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail("header is not a JSON object");
  if (!duplicate.empty()) fail("tensor name '", duplicate, "' appears twice in the header");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail("__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail("__metadata__ value for '", m.key(), "' is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    out.entries.push_back(parse_entry(it.key(), *it));
  }
  std::sort(out.entries.begin(), out.entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (const auto& e : out.entries) {
    if (e.begin < expect)
      fail("tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end, "] overlap the previous tensor");
    if (e.begin > expect)
      fail("hole in the data buffer before tensor '", e.name, "' (bytes ", expect, "..", e.begin, ")");
    expect = e.end;
  }
  uint64_t data_size = file_size - out.data_start;
  if (expect != data_size)
    fail("tensors cover ", expect, " bytes of data but the file holds ", data_size,
         expect > data_size ? " (truncated file?)" : " (trailing bytes)");
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
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), ": cannot create file");
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& e : entries) {
    const TensorView* v = views.at(e.name);
    if (v->nbytes != e.end - e.begin)
      fail(path.string(), ": tensor '", e.name, "' has ", v->nbytes, " bytes, shape needs ", e.end - e.begin);
    out.write(reinterpret_cast<const char*>(v->data), static_cast<std::streamsize>(v->nbytes));
  }
  out.flush();
  if (!out) fail(path.string(), ": write failed");
}

}  // namespace alloy
