// How much of the inputs the page cache can hold, and so whether a merge keeps its input pages
// cached once read: inputs that fit stay cached for the next merge of the same models; inputs
// larger than that room cannot stay anyway, and keeping them only evicts the machine's other files
// (or, in a container, fills the cgroup's limit) first.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

// A merge reads each input byte once (a second pass of a method reads it before it is released).
// The output of a durable merge is on the disk once flushed: its pages stay cached where they fit
// beside the inputs (a conversion or an evaluation reading the merge next reads it from memory),
// and otherwise leave, before they would push the inputs out.

// What a merge does with its input pages (the --input-cache option) or with its output's pages
// once they are durable (--output-cache).
enum class CachePolicy {
  Auto,  // drop them when they do not fit in page_cache_room() (drop_input_pages, drop_output_pages)
  Keep,
  Drop,
};

// The bytes of file pages the page cache can hold for this process now: the kernel's MemAvailable
// (free memory and what it can reclaim), capped by the room under the memory limits of the
// process's cgroup and its ancestors (page-cache pages are charged to them): each limit less what
// its group holds that reclaim cannot free (the other processes' anonymous memory, shmem).
// nullopt when /proc/meminfo cannot be read.
std::optional<uint64_t> page_cache_room();

// The parts of page_cache_room, for tests: MemAvailable from the text of /proc/meminfo; the
// smallest room under a memory limit on the path of each hierarchy in the text of
// /proc/self/cgroup (cgroup v2 memory.max and memory.high, v1 memory.limit_in_bytes; less, where
// the group's files say, its usage, memory.current or memory.usage_in_bytes, beyond its memory.stat's
// file pages that are not shmem, file and shmem or total_cache and total_shmem), read under
// `cgroup_root` (normally /sys/fs/cgroup, where a v2 hierarchy may also sit at unified/); nullopt
// where no limit is set.
std::optional<uint64_t> mem_available_bytes(std::string_view meminfo);
std::optional<uint64_t> cgroup_memory_room(std::string_view proc_self_cgroup, const std::filesystem::path& cgroup_root);

// The process's cgroup, relative to its hierarchy's root, from the text of /proc/self/cgroup: in
// the cgroup v1 hierarchy holding `controller` (alone or with others, "cpu,memory"), or for ""
// in cgroup v2's; nullopt where the text lists none.
std::optional<std::filesystem::path> cgroup_path(std::string_view proc_self_cgroup, std::string_view controller);

// Whether a merge reading `input_bytes` drops its input pages (ExecOptions::drop_input_pages); Auto:
// when they exceed `room` (not when the room is unknown).
bool drop_input_pages(CachePolicy choice, uint64_t input_bytes, std::optional<uint64_t> room);
// Whether a durable merge writing `output_bytes` drops its output's pages once flushed
// (ExecOptions::drop_output_pages); Auto: when inputs and output together exceed `room`.
bool drop_output_pages(CachePolicy choice, uint64_t input_bytes, uint64_t output_bytes,
                       std::optional<uint64_t> room);

// A merge's two choices, and a line for the user for each drop that Auto chose (none for what
// the user asked for, or where the room is unknown), naming the sizes and the option that keeps
// the pages.
struct PageCacheChoice {
  bool drop_inputs = false, drop_output = false;
  std::vector<std::string> notices;
};
// drop_input_pages and, for a `durable` merge only (pages leave the page cache only once they are
// on the disk), drop_output_pages.
PageCacheChoice choose_page_cache(CachePolicy inputs, CachePolicy output, bool durable, uint64_t input_bytes,
                                  uint64_t output_bytes, std::optional<uint64_t> room);

}  // namespace alloy
