// GgufModel: a GGUF model as llama.cpp loads it, either one file or a split set written by
// gguf-split (`NAME-00001-of-0000N.gguf` ..., each carrying split.no, split.count and, in the
// first, split.tensors.count). The set is checked to be complete and consistent; its tensors are
// listed in file order across the parts, its metadata is the first part's.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/gguf_file.h"

namespace alloy {

// One tensor of the model: its info and the file that holds its bytes.
struct GgufTensor {
  const GgufTensorInfo* info = nullptr;
  const GgufFile* file = nullptr;
  const std::byte* data() const { return file->data(*info); }
};

// "model-00002-of-00003.gguf" -> {"model", 2, 3}; nullopt for a name that is not a split part.
struct GgufSplitName {
  std::string prefix;
  int number = 0;
  int count = 0;
};
std::optional<GgufSplitName> parse_gguf_split_name(const std::string& file_name);
std::string gguf_split_file_name(const std::string& prefix, int number, int count);

class GgufModel {
 public:
  // Opens `path`; a part of a split set opens every part (any part may be named). Throws Error
  // naming the file and what is wrong or missing.
  static GgufModel open(const std::filesystem::path& path);

  const std::vector<std::shared_ptr<GgufFile>>& files() const { return files_; }
  const std::vector<GgufKeyValue>& metadata() const { return files_.front()->metadata(); }
  const GgufValue* find_value(std::string_view key) const { return files_.front()->find_value(key); }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  // general.architecture ("llama"), or "" when the key is missing or not a string.
  std::string architecture() const;

 private:
  std::vector<std::shared_ptr<GgufFile>> files_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace alloy
