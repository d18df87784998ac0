// The temporary directory a merge writes into, beside its destination: ".alloy-tmp-<name>-<pid>".
// A merge removes it on any error or signal it can catch; for a process killed outright, the next
// merge to the same destination removes the directories whose process is gone and whose lock
// (an flock held by the running merge) nobody holds.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <vector>

namespace alloy {

std::filesystem::path temp_dir_for(const std::filesystem::path& dest, pid_t pid);

// The lock file's name inside a temporary directory (not part of the output: it is not fsynced).
// A regular file, since NFS passes locks on files, not on directories, to the server. It goes only
// once the directory is in place (move_into_place), and last when one is removed (remove_temp_dir),
// so that no moment leaves a directory of shards that no rule removes.
inline constexpr const char* kTempDirLockFile = ".alloy-lock";

// Creates the lock file of a new temporary directory and locks it without waiting: the descriptor
// holding the lock (close it to release), or -1 where the file system refuses.
int create_temp_dir_lock(const std::filesystem::path& dir);

// Locks an existing temporary directory's lock file without waiting: the descriptor, or -1 when
// it has no lock file (an older alloy's, or one killed before creating it: left alone) or another
// open holds the lock (then *busy is set, when given).
int lock_existing_temp_dir(const std::filesystem::path& dir, bool* busy = nullptr);

// Removes the lock file (of a directory now in place). The lock itself lasts until its descriptor
// is closed.
void remove_temp_dir_lock(const std::filesystem::path& dir);

// Removes a temporary directory (or what a killed exchange left under its name: the old output,
// a file) with its lock file last, so that a removal killed halfway still leaves a directory the
// next merge recognises as stale. True when it is gone.
bool remove_temp_dir(const std::filesystem::path& dir);

// Puts the finished temporary directory `tmp` (its lock file still in it) in place of `dest` (absent,
// or an existing output to replace), then removes the lock file from the output. An existing
// destination is exchanged with it atomically (renameat2 RENAME_EXCHANGE): at every instant `dest`
// holds the old output or the new one; the old one, now under the temporary name, gets a locked
// lock file of its own before the exchange (when it is a real directory) and is removed after it,
// so that a merge killed in between leaves a directory the next merge removes. Where the file
// system cannot exchange (NFS, FUSE), or with Exchange::Never (tests), the old output is renamed
// aside to ".alloy-old-<name>-<pid>" first and removed after: a merge killed between the two renames
// leaves no destination and the old output there (see remove_outputs_moved_aside). A destination
// removed while the merge ran is a plain rename. Throws Error, with the destination put back, when
// a rename fails.
enum class Exchange { WhereSupported, Never };
void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& dest, bool dest_exists,
                     Exchange exchange = Exchange::WhereSupported);

// After a merge put its output in place: removes each previous output a merge to `dest` moved
// aside (".alloy-old-<name>-<pid>", a merge killed between its two renames) whose process no longer
// exists; returns the ones removed. Only then: until a new output is in place, that directory may
// be the only copy of the previous one.
std::vector<std::filesystem::path> remove_outputs_moved_aside(const std::filesystem::path& dest);

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
