#include "io/gguf_model.h"

#include <cstdio>
#include <regex>

#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

// An integer split.* key of any integer width (gguf-split writes u16 and i32; others differ).
std::optional<int64_t> split_key(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find_value(key);
  if (!v) return std::nullopt;
  std::optional<int64_t> n = v->as_int();
  if (!n || v->type == GgufType::BOOL)
    fail(f.path().string(), ": metadata key '", key, "' is a ", gguf_type_name(v->type), ", not an integer");
  return n;
}

}  // namespace

std::optional<GgufSplitName> parse_gguf_split_name(const std::string& file_name) {
  static const std::regex pattern(R"(^(.+)-(\d{5})-of-(\d{5})\.gguf$)");
  std::smatch m;
  if (!std::regex_match(file_name, m, pattern)) return std::nullopt;
  GgufSplitName s{m[1].str(), std::stoi(m[2].str()), std::stoi(m[3].str())};
  if (s.count < 1 || s.number < 1 || s.number > s.count) return std::nullopt;
  return s;
}

std::string gguf_split_file_name(const std::string& prefix, int number, int count) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "-%05d-of-%05d.gguf", number, count);
  return prefix + buf;
}

GgufModel GgufModel::open(const fs::path& path) {
  GgufModel model;
  const std::optional<GgufSplitName> split = parse_gguf_split_name(path.filename().string());
  if (!split) {
    model.files_.push_back(GgufFile::open(path));
    if (std::optional<int64_t> count = split_key(*model.files_[0], "split.count"); count && *count > 1)
      fail(path.string(), ": it is part of a split set of ", *count, " files (split.count), but its name is not "
           "NAME-0000k-of-0000N.gguf: give the parts the names gguf-split wrote");
  } else {
    for (int i = 1; i <= split->count; ++i) {
      const fs::path part = path.parent_path() / gguf_split_file_name(split->prefix, i, split->count);
      if (!fs::exists(part))
        fail(path.string(), ": part ", i, " of the split set is missing (expected ", part.string(), ")");
      model.files_.push_back(GgufFile::open(part));
      const GgufFile& f = *model.files_.back();
      const std::optional<int64_t> no = split_key(f, "split.no");
      const std::optional<int64_t> count = split_key(f, "split.count");
      if (split->count > 1 && (!no || !count))
        fail(f.path().string(), ": a split part without the metadata keys split.no and split.count");
      if (count && *count != split->count)
        fail(f.path().string(), ": split.count is ", *count, " but the file name says ", split->count, " parts");
      if (no && *no != i - 1)
        fail(f.path().string(), ": split.no is ", *no, " but the file name says part ", i, " (split.no counts from 0)");
    }
  }
  for (const auto& f : model.files_)
    for (const auto& info : f->tensors()) {
      if (!model.by_name_.emplace(info.name, model.tensors_.size()).second)
        fail(f->path().string(), ": tensor '", info.name, "' is also in an earlier part of the split set");
      model.tensors_.push_back({&info, f.get()});
    }
  if (std::optional<int64_t> total = split_key(*model.files_[0], "split.tensors.count");
      total && static_cast<uint64_t>(*total) != model.tensors_.size())
    fail(model.files_[0]->path().string(), ": split.tensors.count is ", *total, " but the ", model.files_.size(),
         " part(s) hold ", model.tensors_.size(), " tensors");
  return model;
}

const GgufTensor* GgufModel::find_tensor(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::string GgufModel::architecture() const {
  const GgufValue* v = find_value("general.architecture");
  return v && v->type == GgufType::STRING ? v->text : std::string();
}

}  // namespace alloy
