#include "os/page_cache_room.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace alloy {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<uint64_t> parse_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// fn(field) for each part of `text` between `separator`s (lines, comma lists).
template <class Fn>
void for_each_field(std::string_view text, char separator, Fn fn) {
  for (size_t at = 0; at <= text.size();) {
    size_t end = text.find(separator, at);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(at, end - at));
    at = end + 1;
  }
}

void keep_smallest(std::optional<uint64_t>& smallest, std::optional<uint64_t> value) {
  if (value) smallest = std::min(smallest.value_or(*value), *value);
}

// A v1 limit file reads a number near 2^63 when no limit is set.
constexpr uint64_t kNoLimit = uint64_t{1} << 60;

// Where a cgroup says how much memory it holds, and how much of that is file pages (page cache,
// which reclaim can free unless they are shmem).
struct UsageFiles {
  const char* usage;                  // bytes charged to the group and its descendants
  const char* file_key, *shmem_key;  // in memory.stat, for the same subtree
};
constexpr UsageFiles kV2Usage{"memory.current", "file", "shmem"};
constexpr UsageFiles kV1Usage{"memory.usage_in_bytes", "total_cache", "total_shmem"};

// The value of `key` in the text of a memory.stat ("key value" lines).
std::optional<uint64_t> stat_value(std::string_view stat, std::string_view key) {
  std::optional<uint64_t> value;
  for_each_field(stat, '\n', [&](std::string_view line) {
    if (!value && line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ')
      value = parse_number(line.substr(key.size() + 1));
  });
  return value;
}

// The memory group `dir` holds that reclaim cannot free (anonymous memory, shmem, the kernel's own):
// its usage less its reclaimable file pages; nullopt where it does not say.
std::optional<uint64_t> unreclaimable(const fs::path& dir, const UsageFiles& files) {
  const auto usage_text = read_small_file(dir / files.usage), stat = read_small_file(dir / "memory.stat");
  if (!usage_text || !stat) return std::nullopt;
  const auto usage = parse_number(*usage_text), file = stat_value(*stat, files.file_key);
  if (!usage || !file) return std::nullopt;
  // A kernel without shmem accounting in the group's stat holds none there: all file pages count.
  const uint64_t shmem = stat_value(*stat, files.shmem_key).value_or(0);
  const uint64_t reclaimable = *file - std::min(*file, shmem);
  return *usage - std::min(*usage, reclaimable);
}

// The smallest room under the limit in `limit_file` of `top` and of each directory on the way down
// to top/relative: the limit less what the group holds that reclaim cannot free, where it says.
std::optional<uint64_t> smallest_room_along(const fs::path& top, const fs::path& relative, const char* limit_file,
                                            const UsageFiles& usage) {
  std::optional<uint64_t> smallest;
  fs::path dir = top;
  auto read = [&] {
    if (const auto text = read_small_file(dir / limit_file))
      if (const auto limit = parse_number(*text); limit && *limit < kNoLimit)  // v2 "max": none
        keep_smallest(smallest, *limit - std::min(*limit, unreclaimable(dir, usage).value_or(0)));
  };
  read();
  for (const fs::path& part : relative) {
    if (part.empty() || part == "." || part == "..") continue;
    dir /= part;
    read();
  }
  return smallest;
}

}  // namespace

std::optional<uint64_t> mem_available_bytes(std::string_view meminfo) {
  constexpr std::string_view key = "MemAvailable:";
  std::optional<uint64_t> kib;
  for_each_field(meminfo, '\n', [&](std::string_view line) {
    if (!kib && line.substr(0, key.size()) == key) kib = parse_number(line.substr(key.size()));  // "... kB"
  });
  if (kib) return *kib * 1024;
  return std::nullopt;
}

std::optional<fs::path> cgroup_path(std::string_view proc_self_cgroup, std::string_view controller) {
  std::optional<fs::path> path;
  for_each_field(proc_self_cgroup, '\n', [&](std::string_view line) {
    // "hierarchy-id:controllers:path"; v2 has id 0 and no controllers.
    const size_t first = line.find(':'), second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (path || second == std::string_view::npos) return;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    bool match = controller.empty() && controllers.empty();
    if (!controller.empty())
      for_each_field(controllers, ',', [&](std::string_view c) { match = match || c == controller; });
    if (match) path = fs::path(std::string(line.substr(second + 1))).relative_path();
  });
  return path;
}

std::optional<uint64_t> cgroup_memory_room(std::string_view proc_self_cgroup, const fs::path& cgroup_root) {
  std::optional<uint64_t> smallest;
  if (const auto v2 = cgroup_path(proc_self_cgroup, "")) {
    // memory.high too: above it the kernel reclaims the group's pages (and throttles it), so
    // pages kept past it are evicted before the next merge could read them.
    for (const fs::path& top : {cgroup_root, cgroup_root / "unified"})
      for (const char* file : {"memory.max", "memory.high"})
        keep_smallest(smallest, smallest_room_along(top, *v2, file, kV2Usage));
  }
  if (const auto v1 = cgroup_path(proc_self_cgroup, "memory"))
    keep_smallest(smallest, smallest_room_along(cgroup_root / "memory", *v1, "memory.limit_in_bytes", kV1Usage));
  return smallest;
}

std::optional<uint64_t> page_cache_room() {
  const auto meminfo = read_small_file("/proc/meminfo");
  if (!meminfo) return std::nullopt;
  std::optional<uint64_t> room = mem_available_bytes(*meminfo);
  if (!room) return std::nullopt;
  if (const auto cgroups = read_small_file("/proc/self/cgroup"))
    keep_smallest(room, cgroup_memory_room(*cgroups, "/sys/fs/cgroup"));
  return room;
}

namespace {

// Whether pages go under `choice` when `cached_bytes` would have to stay cached for them to stay.
bool drop_pages(CachePolicy choice, uint64_t cached_bytes, std::optional<uint64_t> room) {
  switch (choice) {
    case CachePolicy::Keep: return false;
    case CachePolicy::Drop: return true;
    case CachePolicy::Auto: break;
  }
  return room && cached_bytes > *room;
}

}  // namespace

bool drop_input_pages(CachePolicy choice, uint64_t input_bytes, std::optional<uint64_t> room) {
  return drop_pages(choice, input_bytes, room);
}

bool drop_output_pages(CachePolicy choice, uint64_t input_bytes, uint64_t output_bytes,
                       std::optional<uint64_t> room) {
  return drop_pages(choice, input_bytes + output_bytes, room);
}

PageCacheChoice choose_page_cache(CachePolicy inputs, CachePolicy output, bool durable, uint64_t input_bytes,
                                  uint64_t output_bytes, std::optional<uint64_t> room) {
  PageCacheChoice choice;
  choice.drop_inputs = drop_input_pages(inputs, input_bytes, room);
  choice.drop_output = durable && drop_output_pages(output, input_bytes, output_bytes, room);
  auto tell = [&](CachePolicy policy, bool dropped, const char* what, uint64_t bytes, const char* then) {
    if (policy != CachePolicy::Auto || !dropped || !room) return;
    char text[240];
    std::snprintf(text, sizeof text, "%s (%.1f GB) are larger than the memory that could cache them (%.1f GB): %s",
                  what, static_cast<double>(bytes) / 1e9, static_cast<double>(*room) / 1e9, then);
    choice.notices.emplace_back(text);
  };
  tell(inputs, choice.drop_inputs, "the inputs", input_bytes,
       "their pages leave the page cache once merged (--input-cache keep keeps them)");
  tell(output, choice.drop_output, "inputs and output", input_bytes + output_bytes,
       "the output's pages leave the page cache once on the disk (--output-cache keep keeps them)");
  return choice;
}

}  // namespace alloy
