// The bench's `limited` regime: a merge run inside a memory cgroup of its own, whose limit the
// page cache is charged against too, as on a machine (or in a container) with less memory than
// the models. Made under the bench's own cgroup. Needs root (or that cgroup delegated to the user)
// and the memory controller: cgroup v1's memory hierarchy, or cgroup v2 at /sys/fs/cgroup with
// memory in the own cgroup's subtree_control.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace alloy::bench {

class MemoryCgroup {
 public:
  // A new cgroup limited to `limit_bytes` (named by this process and a count), or nullptr with
  // *why set (what is missing).
  static std::unique_ptr<MemoryCgroup> create(uint64_t limit_bytes, std::string* why);
  ~MemoryCgroup();  // removes the cgroup (its processes must have exited)
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  // Moves the calling process into the cgroup; false when the kernel refuses.
  bool join() const;
  // The most memory the cgroup has held (page cache included), bytes; 0 when unknown (v2's
  // memory.peak came in Linux 5.19). One cgroup per run: the mark is never reset.
  uint64_t peak_bytes() const;
  uint64_t limit_bytes() const { return limit_; }

 private:
  MemoryCgroup(std::filesystem::path dir, bool v2, uint64_t limit) : dir_(std::move(dir)), v2_(v2), limit_(limit) {}
  std::filesystem::path dir_;
  bool v2_;
  uint64_t limit_;
};

}  // namespace alloy::bench
