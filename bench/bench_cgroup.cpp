#include "bench_cgroup.h"

#include <unistd.h>

#include <fstream>
#include <string>
#include <system_error>

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

}  // namespace

std::unique_ptr<MemoryCgroup> MemoryCgroup::create(uint64_t limit_bytes, int tag, std::string* why) {
  const std::string name = "alloy-bench-" + std::to_string(::getpid()) + "-" + std::to_string(tag);
  const fs::path v1 = "/sys/fs/cgroup/memory", v2 = "/sys/fs/cgroup";
  bool is_v2 = false;
  fs::path dir;
  if (fs::exists(v1 / "memory.limit_in_bytes")) {
    dir = v1 / name;
  } else if (contains_word(v2 / "cgroup.subtree_control", "memory")) {
    dir = v2 / name;
    is_v2 = true;
  } else {
    *why = "no memory cgroup controller to use (cgroup v1 memory hierarchy, or v2 at /sys/fs/cgroup with memory "
           "in cgroup.subtree_control)";
    return nullptr;
  }
  std::error_code ec;
  if (!fs::create_directory(dir, ec)) {
    *why = "cannot create " + dir.string() + ": " + (ec ? ec.message() : "it exists") + " (needs root)";
    return nullptr;
  }
  std::unique_ptr<MemoryCgroup> group(new MemoryCgroup(dir, is_v2, limit_bytes));
  if (!write_text(dir / (is_v2 ? "memory.max" : "memory.limit_in_bytes"), std::to_string(limit_bytes))) {
    *why = "cannot set the memory limit of " + dir.string();
    return nullptr;  // the destructor removes the directory
  }
  if (is_v2) write_text(dir / "memory.swap.max", "0");  // page cache and resident memory, not swap
  return group;
}

MemoryCgroup::~MemoryCgroup() {
  std::error_code ec;
  fs::remove(dir_, ec);  // rmdir: a cgroup's files go with it
}

bool MemoryCgroup::join() const {
  return write_text(dir_ / (v2_ ? "cgroup.procs" : "tasks"), std::to_string(::getpid()));
}

uint64_t MemoryCgroup::peak_bytes() const {
  return read_number(dir_ / (v2_ ? "memory.peak" : "memory.max_usage_in_bytes"));
}

}  // namespace alloy::bench
