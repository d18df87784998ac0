#include "bench_cgroup.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "os/page_cache_room.h"

namespace alloy::bench {

namespace fs = std::filesystem;

namespace {

bool write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

uint64_t read_number(const fs::path& file) {
  std::ifstream in(file);
  uint64_t value = 0;
  return in >> value ? value : 0;
}

bool contains_word(const fs::path& file, const std::string& word) {
  std::ifstream in(file);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

// This process's cgroup in the hierarchy of `controller` ("" for cgroup v2's), relative to the
// hierarchy's root; the root itself where /proc/self/cgroup does not say.
fs::path own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::ostringstream text;
  text << in.rdbuf();
  return cgroup_path(text.str(), controller).value_or(fs::path());
}

}  // namespace

std::unique_ptr<MemoryCgroup> MemoryCgroup::create(uint64_t limit_bytes, std::string* why) {
  // Under this process's own cgroup, so that the merge stays within the limits and accounting
  // of whatever runs the bench (a container's, a sandbox's).
  static int created = 0;
  const std::string name = "alloy-bench-" + std::to_string(::getpid()) + "-" + std::to_string(created++);
  const fs::path v1 = "/sys/fs/cgroup/memory", v2 = "/sys/fs/cgroup";
  bool is_v2 = false;
  fs::path parent;
  if (fs::exists(v1 / "memory.limit_in_bytes")) {
    parent = v1 / own_cgroup("memory");
  } else if (fs::exists(v2 / "cgroup.controllers")) {
    parent = v2 / own_cgroup("");
    is_v2 = true;
    // A v2 child gets the memory controller only where its parent hands it down.
    if (!contains_word(parent / "cgroup.subtree_control", "memory")) {
      *why = "the memory controller is not enabled for " + parent.string() + "'s children (cgroup.subtree_control)";
      return nullptr;
    }
  } else {
    *why = "no memory cgroup controller (neither cgroup v1's memory hierarchy nor cgroup v2 at /sys/fs/cgroup)";
    return nullptr;
  }
  const fs::path dir = parent / name;
  std::error_code ec;
  if (!fs::create_directory(dir, ec)) {
    *why = "cannot create " + dir.string() + ": " + (ec ? ec.message() + " (needs root, or a delegated cgroup)" : "it exists");
    return nullptr;
  }
  std::unique_ptr<MemoryCgroup> group(new MemoryCgroup(dir, is_v2, limit_bytes));
  if (!write_text(dir / (is_v2 ? "memory.max" : "memory.limit_in_bytes"), std::to_string(limit_bytes))) {
    *why = "cannot set the memory limit of " + dir.string();
    return nullptr;  // the destructor removes the directory
  }
  // The limit covers page cache and resident memory, not swap: none is allowed beside it.
  if (is_v2)
    write_text(dir / "memory.swap.max", "0");
  else if (fs::exists(dir / "memory.memsw.limit_in_bytes"))
    write_text(dir / "memory.memsw.limit_in_bytes", std::to_string(limit_bytes));
  return group;
}

MemoryCgroup::~MemoryCgroup() {
  std::error_code ec;
  if (!fs::remove(dir_, ec) || ec)  // rmdir: a cgroup's files go with it
    std::fprintf(stderr, "alloy_bench: cannot remove the cgroup %s: %s\n", dir_.c_str(),
                 ec ? ec.message().c_str() : "it is gone");
}

bool MemoryCgroup::join() const {
  return write_text(dir_ / (v2_ ? "cgroup.procs" : "tasks"), std::to_string(::getpid()));
}

uint64_t MemoryCgroup::peak_bytes() const {
  return read_number(dir_ / (v2_ ? "memory.peak" : "memory.max_usage_in_bytes"));
}

}  // namespace alloy::bench
