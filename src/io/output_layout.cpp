#include "io/output_layout.h"

#include <algorithm>
#include <cstdio>

#include "util/error.h"

namespace alloy {

OutputLayout layout_shards(const std::vector<OutputTensor>& tensors, uint64_t max_shard_bytes) {
  // Group tensor indices into shards, in order.
  std::vector<std::vector<size_t>> groups;
  uint64_t current = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t bytes = static_cast<uint64_t>(numel(tensors[i].shape)) * dtype_size(tensors[i].dtype);
    if (groups.empty() || (max_shard_bytes > 0 && !groups.back().empty() && current + bytes > max_shard_bytes)) {
      groups.emplace_back();
      current = 0;
    }
    groups.back().push_back(i);
    current += bytes;
  }
  if (groups.empty()) groups.emplace_back();

  OutputLayout layout;
  layout.placements.resize(tensors.size());
  const size_t n = groups.size();
  for (size_t s = 0; s < n; ++s) {
    auto& group = groups[s];
    std::stable_sort(group.begin(), group.end(), [&](size_t a, size_t b) {
      return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
    });
    ShardLayout shard;
    if (n == 1) {
      shard.file_name = "model.safetensors";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, n);
      shard.file_name = buf;
    }
    for (size_t i : group) shard.entries.push_back({tensors[i].name, tensors[i].dtype, tensors[i].shape, 0, 0});
    shard.header = build_safetensors_header(shard.entries);
    uint64_t data_start = shard.header.size();
    for (size_t k = 0; k < group.size(); ++k) {
      const auto& e = shard.entries[k];
      layout.placements[group[k]] = {s, data_start + e.begin, e.end - e.begin};
      layout.total_tensor_bytes += e.end - e.begin;
    }
    shard.file_size = data_start + (shard.entries.empty() ? 0 : shard.entries.back().end);
    layout.shards.push_back(std::move(shard));
  }
  return layout;
}

nlohmann::json OutputLayout::index_json() const {
  nlohmann::json weight_map = nlohmann::json::object();
  for (const auto& shard : shards)
    for (const auto& e : shard.entries) weight_map[e.name] = shard.file_name;
  return {{"metadata", {{"total_size", total_tensor_bytes}, {"alloy_version", ALLOY_VERSION}}},
          {"weight_map", weight_map}};
}

}  // namespace alloy
