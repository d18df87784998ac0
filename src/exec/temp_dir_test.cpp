#include "exec/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace alloy {
namespace {

namespace fs = std::filesystem;

// A pid that no process holds: a child's, once it has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) _exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("alloy-tempdir-" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Scratch() { fs::remove_all(root); }
  fs::path dir_with_a_shard(const std::string& name) const {
    fs::create_directories(root / name);
    std::ofstream(root / name / "model.safetensors") << "partial";
    return root / name;
  }
};

TEST(TempDir, NamedAfterTheDestinationAndThePid) {
  EXPECT_EQ(temp_dir_for("/data/merged", 4321), fs::path("/data/.alloy-tmp-merged-4321"));
}

// What a killed merge leaves (its process gone, its lock released with it) is removed; a live
// merge's directory (its process running, or its lock held), other destinations' and anything not
// named exactly like a temporary directory are left alone.
TEST(TempDir, RemovesOnlyTheDirectoriesOfKilledMergesToTheSameDestination) {
  Scratch s;
  const fs::path dest = s.root / "out";
  const pid_t gone = dead_pid(), other_gone = dead_pid();
  const fs::path killed = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(gone));
  const fs::path killed_too = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(other_gone));
  const fs::path running = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(::getppid()));
  const fs::path mine = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(::getpid()));
  const fs::path locked = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(dead_pid()));
  const int lock = lock_dir(locked);  // as a merge on another host holds it
  ASSERT_GE(lock, 0);
  const std::vector<fs::path> kept = {
      running,
      mine,
      locked,
      s.dir_with_a_shard(".alloy-tmp-other-" + std::to_string(gone)),     // another destination
      s.dir_with_a_shard(".alloy-tmp-out-2-" + std::to_string(gone)),     // destination "out-2"
      s.dir_with_a_shard(".alloy-tmp-out-x" + std::to_string(gone)),      // not a pid
      s.dir_with_a_shard(".alloy-old-out-" + std::to_string(gone)),       // a previous output
      s.dir_with_a_shard("out"),
  };
  std::ofstream(s.root / (".alloy-tmp-out-" + std::to_string(dead_pid()))) << "a file, not a directory";
  fs::create_directory_symlink(s.root / "out", s.root / (".alloy-tmp-out-" + std::to_string(dead_pid())));

  std::vector<fs::path> removed = remove_stale_temp_dirs(dest);
  std::sort(removed.begin(), removed.end());
  std::vector<fs::path> expected = {killed, killed_too};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_FALSE(fs::exists(killed_too));
  for (const fs::path& p : kept) EXPECT_TRUE(fs::exists(p / "model.safetensors")) << p;
  ::close(lock);
  // Once its lock is released, the directory of the gone process is stale too.
  EXPECT_EQ(remove_stale_temp_dirs(dest), std::vector<fs::path>{locked});
  EXPECT_TRUE(fs::exists(s.root / "out/model.safetensors"));  // not through the symlink
  EXPECT_TRUE(remove_stale_temp_dirs(s.root / "missing-parent" / "out").empty());
}

TEST(TempDir, ALockIsExclusiveUntilClosed) {
  Scratch s;
  const fs::path dir = s.dir_with_a_shard("d");
  const int first = lock_dir(dir);
  ASSERT_GE(first, 0);
  EXPECT_EQ(lock_dir(dir), -1);
  ::close(first);
  const int again = lock_dir(dir);
  EXPECT_GE(again, 0);
  ::close(again);
  EXPECT_EQ(lock_dir(s.root / "absent"), -1);
  EXPECT_EQ(lock_dir(dir / "model.safetensors"), -1);  // not a directory
}

}  // namespace
}  // namespace alloy
