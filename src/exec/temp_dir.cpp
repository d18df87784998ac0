#include "exec/temp_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  // renameat2
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

std::string temp_prefix(const fs::path& dest) { return ".alloy-tmp-" + dest.filename().string() + "-"; }
std::string old_prefix(const fs::path& dest) { return ".alloy-old-" + dest.filename().string() + "-"; }

// The pid a temporary directory's name ends in, or -1 when the rest of the name is not one.
pid_t pid_in_name(const std::string& rest) {
  if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string::npos) return -1;
  const long pid = std::stol(rest);
  return pid > 0 ? static_cast<pid_t>(pid) : -1;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

int lock_file(const fs::path& path, int flags, bool* busy) {
  const int fd = ::open(path.c_str(), flags | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (busy && errno == EWOULDBLOCK) *busy = true;
    ::close(fd);
    return -1;
  }
  return fd;
}

// The directories beside `dest` named `prefix` + the pid of a process that no longer exists (not
// this one's; symlinks and files excluded).
std::vector<fs::path> dirs_of_gone_processes(const fs::path& dest, const std::string& prefix) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (fs::directory_iterator it(dest.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const pid_t pid = pid_in_name(name.substr(prefix.size()));
    std::error_code status_ec;
    if (pid > 0 && pid != ::getpid() && fs::is_directory(it->symlink_status(status_ec)) && process_gone(pid))
      dirs.push_back(it->path());
  }
  return dirs;
}

}  // namespace

fs::path temp_dir_for(const fs::path& dest, pid_t pid) {
  return dest.parent_path() / (temp_prefix(dest) + std::to_string(pid));
}

int create_temp_dir_lock(const fs::path& dir) { return lock_file(dir / kTempDirLockFile, O_CREAT, nullptr); }

int lock_existing_temp_dir(const fs::path& dir, bool* busy) { return lock_file(dir / kTempDirLockFile, 0, busy); }

void remove_temp_dir_lock(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / kTempDirLockFile, ec);
}

bool remove_temp_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return fs::remove(dir, ec) || !ec;
  bool ok = true;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == kTempDirLockFile) continue;
    std::error_code entry_ec;
    fs::remove_all(it->path(), entry_ec);
    ok = ok && !entry_ec;
  }
  if (ec || !ok) return false;
  remove_temp_dir_lock(dir);
  return fs::remove(dir, ec);
}

void move_into_place(const fs::path& tmp, const fs::path& dest, bool dest_exists, Exchange exchange) {
  std::error_code ec;
  if (dest_exists && exchange == Exchange::WhereSupported) {
    // The old output's own lock: only in a real directory (a symlink's target is not ours to
    // touch, and is not removed); -1 for a file, a symlink, or without locks: still exchanged.
    const int old_lock = fs::is_directory(fs::symlink_status(dest, ec)) ? create_temp_dir_lock(dest) : -1;
    const int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE);
    const int exchange_errno = errno;
    if (rc == 0) {
      remove_temp_dir_lock(dest);
      remove_temp_dir(tmp);  // the old output, its lock file last
      if (old_lock >= 0) ::close(old_lock);
      return;
    }
    if (old_lock >= 0) {
      remove_temp_dir_lock(dest);
      ::close(old_lock);
    }
    if (exchange_errno == ENOENT)
      dest_exists = false;  // removed while the merge ran: a plain rename
    else if (exchange_errno != EINVAL && exchange_errno != ENOSYS && exchange_errno != EOPNOTSUPP)
      fail(dest.string(), ": cannot exchange the finished merge (", tmp.string(), ") with it: ",
           std::strerror(exchange_errno));
  }
  fs::path old;
  if (dest_exists) {
    old = dest.parent_path() / (old_prefix(dest) + std::to_string(::getpid()));
    fs::rename(dest, old, ec);
    if (ec) fail(dest.string(), ": cannot move the existing output aside to ", old.string(), ": ", ec.message());
  }
  fs::rename(tmp, dest, ec);
  if (ec) {
    std::error_code back;
    if (!old.empty()) fs::rename(old, dest, back);
    if (back)
      fail(dest.string(), ": cannot move the finished merge into place (", ec.message(),
           "), nor the previous output back from ", old.string(), " (", back.message(), ")");
    fail(dest.string(), ": cannot move the finished merge into place: ", ec.message());
  }
  remove_temp_dir_lock(dest);
  if (!old.empty()) fs::remove_all(old, ec);
}

std::vector<fs::path> remove_outputs_moved_aside(const fs::path& dest) {
  std::vector<fs::path> removed;
  for (const fs::path& dir : dirs_of_gone_processes(dest, old_prefix(dest))) {
    std::error_code remove_ec;
    fs::remove_all(dir, remove_ec);
    if (!remove_ec) removed.push_back(dir);
  }
  return removed;
}

bool clear_temp_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return true;
  bool busy = false;
  const int lock = lock_existing_temp_dir(dir, &busy);
  if (lock >= 0) ::close(lock);
  if (busy) return false;
  remove_temp_dir(dir);
  return true;
}

std::vector<fs::path> remove_stale_temp_dirs(const fs::path& dest) {
  std::vector<fs::path> removed;
  for (const fs::path& dir : dirs_of_gone_processes(dest, temp_prefix(dest))) {
    // Both tests: the pid alone could be another host's (a shared file system) or another pid
    // namespace's, the lock alone could be missed by a merge between creating its directory and
    // its lock file.
    bool busy = false;
    const int lock = lock_existing_temp_dir(dir, &busy);
    if (lock < 0) {
      // No lock file: a merge killed between creating the directory and its lock file, when the
      // directory is empty (fs::remove takes only an empty one, atomically), else an older
      // alloy's, left alone.
      std::error_code empty_ec;
      if (!busy && fs::remove(dir, empty_ec)) removed.push_back(dir);
      continue;
    }
    const bool gone = remove_temp_dir(dir);  // its lock file last: a kill halfway leaves it stale still
    ::close(lock);
    if (gone) removed.push_back(dir);
  }
  return removed;
}

}  // namespace alloy
