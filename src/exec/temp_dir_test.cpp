#include "exec/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "../../tests/test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

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
  // As a merge leaves it: a shard and its (unlocked, once the process is gone) lock file.
  fs::path merge_dir(const std::string& name) const {
    const fs::path dir = dir_with_a_shard(name);
    const int lock = create_temp_dir_lock(dir);
    EXPECT_GE(lock, 0);
    ::close(lock);
    return dir;
  }
};

TEST(TempDir, NamedAfterTheDestinationAndThePid) {
  EXPECT_EQ(temp_dir_for("/data/merged", 4321), fs::path("/data/.alloy-tmp-merged-4321"));
}

// What a killed merge leaves (its process gone, its lock released with it) is removed; a live
// merge's directory (its process running, or its lock held), other destinations' and anything not
// named exactly like a temporary directory, or without a lock file, are left alone.
TEST(TempDir, RemovesOnlyTheDirectoriesOfKilledMergesToTheSameDestination) {
  Scratch s;
  const fs::path dest = s.root / "out";
  const pid_t gone = dead_pid(), other_gone = dead_pid();
  const fs::path killed = s.merge_dir(".alloy-tmp-out-" + std::to_string(gone));
  const fs::path killed_too = s.merge_dir(".alloy-tmp-out-" + std::to_string(other_gone));
  const fs::path killed_early = s.root / (".alloy-tmp-out-" + std::to_string(dead_pid()));  // before its lock
  fs::create_directory(killed_early);
  const fs::path running = s.merge_dir(".alloy-tmp-out-" + std::to_string(::getppid()));
  const fs::path mine = s.merge_dir(".alloy-tmp-out-" + std::to_string(::getpid()));
  const fs::path locked = s.merge_dir(".alloy-tmp-out-" + std::to_string(dead_pid()));
  const int lock = lock_existing_temp_dir(locked);  // as a merge in another pid namespace holds it
  ASSERT_GE(lock, 0);
  const std::vector<fs::path> kept = {
      running,
      mine,
      locked,
      s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(dead_pid())),  // no lock file, not empty
      s.merge_dir(".alloy-tmp-other-" + std::to_string(gone)),            // another destination
      s.merge_dir(".alloy-tmp-out-2-" + std::to_string(gone)),            // destination "out-2"
      s.merge_dir(".alloy-tmp-out-x" + std::to_string(gone)),             // not a pid
      s.merge_dir("out"),
  };
  std::ofstream(s.root / (".alloy-tmp-out-" + std::to_string(dead_pid()))) << "a file, not a directory";
  fs::create_directory_symlink(s.root / "out", s.root / (".alloy-tmp-out-" + std::to_string(dead_pid())));

  std::vector<fs::path> removed = remove_stale_temp_dirs(dest);
  std::sort(removed.begin(), removed.end());
  std::vector<fs::path> expected = {killed, killed_too, killed_early};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_FALSE(fs::exists(killed_too));
  EXPECT_FALSE(fs::exists(killed_early));
  for (const fs::path& p : kept) EXPECT_TRUE(fs::exists(p / "model.safetensors")) << p;
  ::close(lock);
  // Once its lock is released, the directory of the gone process is stale too.
  EXPECT_EQ(remove_stale_temp_dirs(dest), std::vector<fs::path>{locked});
  EXPECT_TRUE(fs::exists(s.root / "out/model.safetensors"));  // not through the symlink
  EXPECT_TRUE(remove_stale_temp_dirs(s.root / "missing-parent" / "out").empty());
}

// A previous output a merge moved aside (where the file system cannot exchange directories) is
// the only copy of it until a new output is in place: the cleanup at a merge's start leaves it
// (even with the destination recreated, empty), the one after a merge's move removes it.
TEST(TempDir, APreviousOutputMovedAsideIsRemovedOnlyOnceANewOutputIsInPlace) {
  Scratch s;
  const fs::path dest = s.root / "out";
  const fs::path aside = s.dir_with_a_shard(".alloy-old-out-" + std::to_string(dead_pid()));
  const fs::path running = s.dir_with_a_shard(".alloy-old-out-" + std::to_string(::getppid()));
  const fs::path other = s.dir_with_a_shard(".alloy-old-other-" + std::to_string(dead_pid()));
  fs::create_directory(dest);
  EXPECT_TRUE(remove_stale_temp_dirs(dest).empty());
  EXPECT_TRUE(fs::exists(aside / "model.safetensors"));
  EXPECT_EQ(remove_outputs_moved_aside(dest), std::vector<fs::path>{aside});
  EXPECT_FALSE(fs::exists(aside));
  EXPECT_TRUE(fs::exists(running / "model.safetensors"));
  EXPECT_TRUE(fs::exists(other / "model.safetensors"));
}

// A temporary directory's removal takes its lock file last: killed or failing halfway, what is
// left still has the lock file that marks it stale. (The failing case needs a shard that cannot
// be removed: a read-only directory, which root ignores, so it runs only without root.)
TEST(TempDir, RemovalTakesTheLockFileLast) {
  Scratch s;
  const fs::path dir = s.merge_dir(".alloy-tmp-out-" + std::to_string(dead_pid()));
  for (int k = 0; k < 20; ++k) std::ofstream(dir / ("shard-" + std::to_string(k))) << k;
  fs::create_directories(dir / "sub" / "deeper");
  EXPECT_TRUE(remove_temp_dir(dir));
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(remove_temp_dir(dir));  // absent is fine
  if (::geteuid() != 0) {
    const fs::path stuck = s.merge_dir(".alloy-tmp-out-" + std::to_string(dead_pid()));
    fs::create_directories(stuck / "ro");
    std::ofstream(stuck / "ro" / "shard") << "x";
    fs::permissions(stuck / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_FALSE(remove_temp_dir(stuck));
    EXPECT_TRUE(fs::exists(stuck / ".alloy-lock"));
    fs::permissions(stuck / "ro", fs::perms::owner_all);
  }
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A finished temporary directory, its lock still held, becomes the destination (absent, an empty
// directory, a previous output or a file); no lock file stays in the output, and nothing of the
// temporary directory or the old output stays beside it.
TEST(TempDir, MoveIntoPlaceReplacesTheDestinationAndLeavesNoLockFile) {
  Scratch s;
  const fs::path dest = s.root / "out";
  auto finished = [&](const std::string& text) {
    const fs::path tmp = temp_dir_for(dest, ::getpid());
    fs::create_directories(tmp);
    std::ofstream(tmp / "model.safetensors") << text;
    const int lock = create_temp_dir_lock(tmp);
    EXPECT_GE(lock, 0);
    return std::make_pair(tmp, lock);
  };
  auto [tmp, lock] = finished("first");
  move_into_place(tmp, dest, false);
  ::close(lock);
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "first");
  EXPECT_EQ(names_in(dest), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});

  std::ofstream(dest / "stale.bin") << "of the previous output";
  std::tie(tmp, lock) = finished("second");
  move_into_place(tmp, dest, true);
  ::close(lock);
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "second");
  EXPECT_EQ(names_in(dest), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});

  fs::remove_all(dest);
  fs::create_directory(dest);  // an empty directory
  std::tie(tmp, lock) = finished("third");
  move_into_place(tmp, dest, true);
  ::close(lock);
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "third");
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});

  // A symlink is replaced, not followed: its target stays as it was.
  fs::remove_all(dest);
  fs::create_directory(s.root / "target");
  std::ofstream(s.root / "target" / "kept.txt") << "the user's";
  fs::create_directory_symlink(s.root / "target", dest);
  std::tie(tmp, lock) = finished("symlink");
  move_into_place(tmp, dest, true);
  ::close(lock);
  EXPECT_FALSE(fs::is_symlink(dest));
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "symlink");
  EXPECT_EQ(names_in(s.root / "target"), std::vector<std::string>{"kept.txt"});
  fs::remove_all(s.root / "target");

  fs::remove_all(dest);
  std::ofstream(dest) << "a file";
  std::tie(tmp, lock) = finished("fourth");
  move_into_place(tmp, dest, true);
  ::close(lock);
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "fourth");
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});
}

// Where the file system cannot exchange directories: the old output is moved aside, then removed;
// a destination removed while the merge ran is a plain rename either way.
TEST(TempDir, MoveIntoPlaceWithoutExchangeMovesTheOldOutputAside) {
  Scratch s;
  const fs::path dest = s.root / "out";
  s.dir_with_a_shard("out");
  std::ofstream(dest / "stale.bin") << "of the previous output";
  const fs::path tmp = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(::getpid()));
  std::ofstream(tmp / "model.safetensors") << "new";
  const int lock = create_temp_dir_lock(tmp);
  move_into_place(tmp, dest, true, Exchange::Never);
  ::close(lock);
  EXPECT_EQ(testing::read_file(dest / "model.safetensors"), "new");
  EXPECT_EQ(names_in(dest), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});

  fs::remove_all(dest);  // gone by the time the merge ends
  const fs::path again = s.dir_with_a_shard(".alloy-tmp-out-" + std::to_string(::getpid()));
  move_into_place(again, dest, true);
  EXPECT_TRUE(fs::exists(dest / "model.safetensors"));
  EXPECT_EQ(names_in(s.root), std::vector<std::string>{"out"});
}

// A failed move names the destination and leaves the finished directory where it was.
TEST(TempDir, MoveIntoPlaceFailureNamesTheDestination) {
  Scratch s;
  const fs::path dest = s.root / "missing-parent" / "out";
  const fs::path tmp = s.dir_with_a_shard(".alloy-tmp-out-1");
  try {
    move_into_place(tmp, dest, false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dest.string() + ": cannot move the finished merge into place"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(fs::exists(tmp / "model.safetensors"));
}

TEST(TempDir, ALockIsExclusiveUntilClosedAndItsFileGoesOnRequest) {
  Scratch s;
  const fs::path dir = s.dir_with_a_shard("d");
  bool busy = false;
  EXPECT_EQ(lock_existing_temp_dir(dir, &busy), -1);  // no lock file yet
  EXPECT_FALSE(busy);
  const int first = create_temp_dir_lock(dir);
  ASSERT_GE(first, 0);
  EXPECT_EQ(lock_existing_temp_dir(dir, &busy), -1);
  EXPECT_TRUE(busy);
  ::close(first);
  busy = false;
  const int again = lock_existing_temp_dir(dir, &busy);
  EXPECT_GE(again, 0);
  EXPECT_FALSE(busy);
  remove_temp_dir_lock(dir);  // the lock file goes; the shard stays
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"model.safetensors"});
  ::close(again);
  EXPECT_EQ(create_temp_dir_lock(s.root / "absent"), -1);
}

// The directory of a merge's own name: removed when free (an earlier process with its pid), kept
// when its lock is held (a merge in another pid namespace), and absent is fine.
TEST(TempDir, OwnNameIsClearedUnlessItsLockIsHeld) {
  Scratch s;
  const fs::path dir = s.merge_dir(".alloy-tmp-out-" + std::to_string(::getpid()));
  const int held = lock_existing_temp_dir(dir);
  ASSERT_GE(held, 0);
  EXPECT_FALSE(clear_temp_dir(dir));
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  ::close(held);
  EXPECT_TRUE(clear_temp_dir(dir));
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(clear_temp_dir(dir));
  EXPECT_TRUE(clear_temp_dir(s.dir_with_a_shard(".alloy-tmp-out-1")));  // no lock file: an old leftover
  EXPECT_FALSE(fs::exists(s.root / ".alloy-tmp-out-1"));
}

}  // namespace
}  // namespace alloy
