// The temporary directory a merge writes into, beside its destination: ".alloy-tmp-<name>-<pid>".
// A merge removes it on any error or signal it can catch; a process killed outright (SIGKILL, the
// OOM killer, a power loss) cannot, and leaves up to a whole model's worth of shards behind. So a
// running merge holds an exclusive flock on its directory, and the next merge to the same
// destination removes the directories whose process is gone and whose lock nobody holds.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <vector>

namespace alloy {

std::filesystem::path temp_dir_for(const std::filesystem::path& dest, pid_t pid);

// Opens `dir` and takes an exclusive flock on it without waiting: the descriptor holding the lock
// (close it to release), or -1 when another open holds it or the file system refuses.
int lock_dir(const std::filesystem::path& dir);

// Removes, beside `dest`, each temporary directory of a merge to `dest` whose process no longer
// exists and whose lock is free; returns the ones removed. Anything else (other destinations,
// files, symlinks, ".alloy-old-*" directories holding a previous output) is left alone.
std::vector<std::filesystem::path> remove_stale_temp_dirs(const std::filesystem::path& dest);

}  // namespace alloy
