#include "io/checkpoint.h"

#include <algorithm>
#include <sstream>

#include "io/gguf_checkpoint.h"
#include "io/torch_checkpoint.h"
#include "io/write_fully.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json_file(const fs::path& path) {
  const std::string text = read_whole_file(path, "JSON file", kMaxJsonFileBytes);
  // Nesting is bounded before it can make the readers that walk the value recurse without bound.
  json::parser_callback_t bound_depth = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      fail(path.string(), ": JSON is nested more than ", kMaxJsonDepth, " levels deep (limit kMaxJsonDepth)");
    return true;
  };
  try {
    return json::parse(text, bound_depth);
  } catch (const json::exception& e) {
    fail(path.string(), ": invalid JSON: ", e.what());
  }
}

void write_json_file(const fs::path& path, const json& value) { write_text_file(path, value.dump(2) + "\n"); }

const json* json_get_dotted(const json& root, std::string_view dotted) {
  const json* cur = &root;
  while (true) {
    size_t dot = dotted.find('.');
    std::string key(dotted.substr(0, dot));
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    dotted.remove_prefix(dot + 1);
  }
}

void json_set_dotted(json& root, std::string_view dotted, json value) {
  const std::string full_key(dotted);
  json* cur = &root;
  while (true) {
    size_t dot = dotted.find('.');
    std::string key(dotted.substr(0, dot));
    if (!cur->is_object()) fail("config key '", full_key, "': parent of '", key, "' is not an object");
    if (dot == std::string_view::npos) {
      (*cur)[key] = std::move(value);
      return;
    }
    cur = &(*cur)[key];
    if (cur->is_null()) *cur = json::object();
    dotted.remove_prefix(dot + 1);
  }
}

namespace {
// Existence tests that report problems (permissions, loops) as "absent" instead of throwing
// std::filesystem_error; opening the path then fails with an Error that names it.
bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
}  // namespace

std::shared_ptr<Checkpoint> Checkpoint::assemble(const fs::path& path, const fs::path& dir, std::string format,
                                                 bool single_file) {
  auto ck = std::shared_ptr<Checkpoint>(new Checkpoint());
  ck->path_ = path;
  ck->dir_ = dir;
  ck->format_ = std::move(format);
  ck->single_file_ = single_file;
  return ck;
}

size_t Checkpoint::add_file(InputFile file) {
  files_.push_back(std::move(file));
  return files_.size() - 1;
}

void Checkpoint::add_tensor(const std::string& name, const TensorView& view, size_t file) {
  if (!index_.emplace(name, Stored{view, file}).second) fail(path_.string(), ": holds tensor '", name, "' twice");
  names_.push_back(name);
}

void Checkpoint::set_config(json config) {
  config_ = std::move(config);
  has_config_ = true;
}

ShardIndex read_shard_index(const fs::path& index) {
  json idx = read_json_file(index);
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    fail(index.string(), ": has no 'weight_map' object");
  ShardIndex out{idx["weight_map"], {}};
  for (auto it = out.weight_map.begin(); it != out.weight_map.end(); ++it) {
    if (!it->is_string()) fail(index.string(), ": weight_map entry for '", it.key(), "' is not a file name");
    const std::string f = it->get<std::string>();
    if (f.find('/') != std::string::npos || f == ".." || f.empty())
      fail(index.string(), ": weight_map entry for '", it.key(), "' names '", f, "', not a file in the directory");
    if (std::find(out.shards.begin(), out.shards.end(), f) == out.shards.end()) out.shards.push_back(f);
  }
  std::sort(out.shards.begin(), out.shards.end());
  for (const auto& f : out.shards)
    if (!path_exists(index.parent_path() / f)) fail(index.string(), ": points to shard '", f, "', which does not exist");
  if (out.shards.empty()) fail(index.string(), ": weight_map is empty");
  return out;
}

std::shared_ptr<const Checkpoint> Checkpoint::open(const fs::path& path, const CheckpointOptions& options) {
  if (!path_exists(path)) fail(path.string(), ": no such file or directory");
  if (!is_dir(path) && path.extension() == ".gguf") return open_gguf_checkpoint(path, options);
  if (!is_dir(path) && (path.extension() == ".bin" || path.extension() == ".pt" || path.extension() == ".pth"))
    return open_torch_checkpoint(path);
  auto ck = std::shared_ptr<Checkpoint>(new Checkpoint());
  ck->path_ = path;

  std::vector<fs::path> shard_files;
  json weight_map;
  if (is_dir(path)) {
    ck->dir_ = path;
    fs::path single = path / "model.safetensors";
    fs::path index = path / "model.safetensors.index.json";
    if (path_exists(single)) {
      shard_files.push_back(single);
    } else if (path_exists(index)) {
      ShardIndex idx = read_shard_index(index);
      weight_map = std::move(idx.weight_map);
      for (const auto& f : idx.shards) shard_files.push_back(path / f);
    } else {
      if (has_torch_weights(path)) return open_torch_checkpoint(path);
      fail(path.string(), ": no weights found (expected model.safetensors, model.safetensors.index.json, "
           "pytorch_model.bin or pytorch_model.bin.index.json)");
    }
    fs::path config = path / "config.json";
    if (path_exists(config)) {
      ck->config_ = read_json_file(config);
      if (!ck->config_.is_object()) fail(config.string(), ": is not a JSON object");
      ck->has_config_ = true;
    }
  } else {
    ck->single_file_ = true;
    ck->dir_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    shard_files.push_back(path);
  }

  for (const auto& f : shard_files) {
    ck->shards_.push_back(SafetensorsFile::open(f));
    const auto& shard = ck->shards_.back();
    ck->files_.push_back({shard, &shard->mapping(), shard->data_start()});
  }

  if (weight_map.is_null()) {
    const auto& shard = *ck->shards_[0];
    for (const auto& e : shard.entries()) ck->add_tensor(e.name, shard.view(e), 0);
  } else {
    std::unordered_map<std::string, size_t> shard_by_file;
    for (size_t i = 0; i < shard_files.size(); ++i) shard_by_file[shard_files[i].filename().string()] = i;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      size_t s = shard_by_file.at(it->get<std::string>());
      const SafetensorsEntry* e = ck->shards_[s]->find(it.key());
      if (!e)
        fail(path.string(), ": index lists tensor '", it.key(), "' in shard '", it->get<std::string>(),
             "', but that shard does not contain it");
      ck->index_[it.key()] = {ck->shards_[s]->view(*e), s};
    }
    // Storage order: shard by shard, by offset.
    for (size_t s = 0; s < ck->shards_.size(); ++s)
      for (const auto& e : ck->shards_[s]->entries()) {
        auto it = ck->index_.find(e.name);
        if (it != ck->index_.end() && it->second.file == s) ck->names_.push_back(e.name);
      }
  }
  return ck;
}

TensorView Checkpoint::tensor(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) fail("tensor '", name, "' not found in ", path_.string());
  return it->second.view;
}

const SafetensorsFile& Checkpoint::shard_of(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) fail("tensor '", name, "' not found in ", path_.string());
  if (shards_.empty()) fail(path_.string(), ": is a ", format_, " checkpoint, not safetensors shards");
  return *shards_[it->second.file];
}

uint64_t Checkpoint::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, stored] : index_) total += stored.view.nbytes;
  return total;
}

}  // namespace alloy
