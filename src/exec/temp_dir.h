// The temporary directory a merge writes into, beside its destination: ".alloy-tmp-<name>-<pid>".
// A merge removes it on any error or signal it can catch; a process killed outright (SIGKILL, the
// OOM killer, a power loss) cannot, and leaves up to a whole model's worth of shards behind. So a
// running merge holds an exclusive flock on a lock file inside it (a regular file: NFS passes
// locks on files, not on directories, to the server), removed just before the directory becomes
// the destination, and the next merge to the same destination removes the directories whose
// process is gone and whose lock nobody holds.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <vector>

namespace alloy {

std::filesystem::path temp_dir_for(const std::filesystem::path& dest, pid_t pid);

// Creates the lock file of a new temporary directory and locks it without waiting: the descriptor
// holding the lock (close it to release), or -1 where the file system refuses.
int create_temp_dir_lock(const std::filesystem::path& dir);

// Locks an existing temporary directory's lock file without waiting: the descriptor, or -1 when
// it has no lock file (an older alloy's, or one killed before creating it: left alone) or another
// open holds the lock (then *busy is set, when given).
int lock_existing_temp_dir(const std::filesystem::path& dir, bool* busy = nullptr);

// Removes the lock file: the directory is about to become the destination. The lock itself lasts
// until its descriptor is closed.
void remove_temp_dir_lock(const std::filesystem::path& dir);

// Removes the directory a merge is about to create under its own name (left by an earlier process
// with the same pid); false, leaving it, when its lock is held (a merge in another pid namespace,
// a container, to the same destination).
bool clear_temp_dir(const std::filesystem::path& dir);

// Removes, beside `dest`, each temporary directory of a merge to `dest` whose process no longer
// exists and whose lock is free (or which is empty: killed before creating its lock file);
// returns the ones removed. Anything else (other destinations, files, symlinks, non-empty
// directories without a lock file, ".alloy-old-*" directories holding a previous output) is left
// alone.
std::vector<std::filesystem::path> remove_stale_temp_dirs(const std::filesystem::path& dest);

}  // namespace alloy
