// Merges broken on purpose (LevelDB's fault_injection_test in spirit): the shim tools/faultfs makes
// the n-th write, fsync, rename, mmap or ftruncate of the `alloy` process fail while it replaces an
// existing output; a real small file system fills up; signals arrive at random moments. Each case
// runs in a directory of its own, against a fresh copy of the old output. The outcomes allowed:
// - the fault came before the new output was in place: an error naming the cause, the old output
//   byte for byte, no temporary directory left;
// - it came after (syncing the directories the output was renamed in): the complete new output,
//   and an error that says the output is complete; nothing half-written either way.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::small_llama;
using testing::TempDir;
using testing::write_file;

using DirImage = std::map<std::string, std::string>;  // relative path -> bytes

DirImage image_of(const fs::path& dir) {
  DirImage image;
  if (!fs::exists(dir)) return image;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) image[fs::relative(e.path(), dir).string()] = read_file(e.path());
  return image;
}

// Names beside the destination that a merge leaves only when it failed to clean up.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".alloy-tmp-", 0) == 0 || name.rfind(".alloy-old-", 0) == 0) out.push_back(name);
  }
  return out;
}

std::map<std::string, long> read_counts(const fs::path& file) {
  std::map<std::string, long> counts;
  std::istringstream in(read_file(file));
  std::string op;
  long n = 0;
  while (in >> op >> n) counts[op] = n;
  return counts;
}

const char* const kMergeArgs = " --force -q -j 2 --out-shard-size 40K";

std::string recipe(const fs::path& family, int second_weight) {
  return "merge_method: linear\nmodels:\n  - model: " + (family / "ft1").string() +
         "\n    parameters: {weight: 1}\n  - model: " + (family / "ft2").string() +
         "\n    parameters: {weight: " + std::to_string(second_weight) + "}\n";
}

// Built once for the suite: a family of small models, the old output (weights 1:1) and the
// complete new one (1:3) that each case's merge attempts to put in its place.
struct Reference {
  TempDir dir;
  DirImage old_image, new_image;
};

// The replacing merge in `dir` under the shim; `fault` is ALLOY_FAULT ("" for none).
testing::CliResult faulty_merge(const fs::path& dir, const std::string& fault, const fs::path& counts = {}) {
  std::string env = "LD_PRELOAD='" + std::string(ALLOY_FAULTFS) + "' ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 ";
  if (!fault.empty()) env += "ALLOY_FAULT=" + fault + " ";
  if (!counts.empty()) env += "ALLOY_FAULT_COUNTS='" + counts.string() + "' ";
  testing::CliResult r;
  r.status = testing::detail::run_shell(
      testing::detail::in_dir(dir) + env + "'" + ALLOY_BINARY + "' merge new.yml out" + kMergeArgs + " 2>&1", r.output);
  return r;
}

class MergeFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ref = std::make_unique<Reference>();
    const fs::path root = ref->dir.path();
    write_fixture_family(small_llama(2), root / "family");
    write_file(root / "old.yml", recipe(root / "family", 1));
    write_file(root / "new.yml", recipe(root / "family", 3));
    fs::create_directories(root / "old");
    fs::create_directories(root / "new");
    ok = run_alloy("merge ../old.yml out -q -j 1 --out-shard-size 40K", root / "old").status == 0 &&
         run_alloy("merge ../new.yml out -q -j 1 --out-shard-size 40K", root / "new").status == 0;
    ref->old_image = image_of(root / "old/out");
    ref->new_image = image_of(root / "new/out");
  }
  static void TearDownTestSuite() { ref.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ok) << "the reference merges failed";
    ASSERT_GT(ref->old_image.count("model.safetensors.index.json"), 0u) << "the fixture must give several shards";
    ASSERT_NE(ref->old_image, ref->new_image);
  }

  // A directory of its own for one case: a copy of the old output and the recipe of the new one.
  static void prepare_case(const fs::path& dir) {
    fs::copy(ref->dir / "old/out", dir / "out", fs::copy_options::recursive);
    fs::copy_file(ref->dir / "new.yml", dir / "new.yml");
  }

  // The outcomes the file comment allows, for a merge in `dir` that met an error with `cause`.
  static void expect_clean_failure(const fs::path& dir, const testing::CliResult& r, const std::string& cause) {
    EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
    const DirImage now = image_of(dir / "out");
    EXPECT_NE(r.status, 0) << "the fault went unnoticed:\n" << r.output;
    EXPECT_NE(r.output.find("alloy: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(cause), std::string::npos) << "the message must say why:\n" << r.output;
    if (now == ref->new_image) {
      EXPECT_NE(r.output.find("is complete"), std::string::npos)
          << "the new output is in place, so the error must say it is complete:\n" << r.output;
    } else {
      EXPECT_TRUE(now == ref->old_image) << "the existing output was changed:\n" << r.output;
    }
  }

  static inline std::unique_ptr<Reference> ref;
  static inline bool ok = false;
};

// The call numbers one case each fails: the first, one between and the last of each kind, and
// more at the end of the write path, where each call is another stage: each of the last 8 writes
// (the index, config.json, the tokenizer files, the card, the recipe: a fault in one of these once
// went unseen and put an empty config.json in place) and the last 3 fsyncs (the temporary
// directory, then, with the output in place, the destination and its parent). Writes fail with
// ENOSPC and EIO, the rest with EIO; the matrix stays small enough for the sanitizer build.
std::vector<std::string> fault_matrix(const std::map<std::string, long>& counts) {
  std::vector<std::string> faults;
  for (const auto& [op, total] : counts) {
    std::set<long> picks{1, (total + 1) / 2, total};
    const long tail = op == "write" ? 8 : op == "fsync" ? 3 : 0;
    for (long n = total - tail + 1; n <= total; ++n) picks.insert(n);
    for (long n : picks) {
      if (n < 1) continue;
      faults.push_back(op + ":" + std::to_string(n) + ":EIO");
      if (op == "write" && (n == 1 || n == (total + 1) / 2 || n == total))
        faults.push_back(op + ":" + std::to_string(n) + ":ENOSPC");
    }
  }
  return faults;
}

TEST_F(MergeFaults, CountingRunUnderTheShimWritesTheNewOutput) {
  // The shim changes nothing by itself, and the merge makes calls of every kind the matrix fails.
  TempDir dir;
  prepare_case(dir.path());
  const auto r = faulty_merge(dir.path(), "", dir / "counts");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(image_of(dir / "out"), ref->new_image);
  const auto counts = read_counts(dir / "counts");
  EXPECT_GE(counts.at("write"), 5) << "shard headers, tensors, config, index and card are written";
  EXPECT_GE(counts.at("fsync"), 5) << "three shards, the other files, the directories";
  EXPECT_GE(counts.at("rename"), 1);
  EXPECT_GE(counts.at("mmap"), 2) << "one per input model";
  EXPECT_GE(counts.at("ftruncate"), 3) << "one per shard";
}

TEST_F(MergeFaults, EachFailedCallGivesAClearErrorAndOldOrCompleteOutput) {
  std::map<std::string, long> counts;
  {
    TempDir dir;
    prepare_case(dir.path());
    ASSERT_EQ(faulty_merge(dir.path(), "", dir / "counts").status, 0);
    counts = read_counts(dir / "counts");
  }
  const std::vector<std::string> faults = fault_matrix(counts);
  ASSERT_GE(faults.size(), 20u);
  RecordProperty("cases", static_cast<int>(faults.size()));
  for (const std::string& fault : faults) {
    SCOPED_TRACE(fault);
    TempDir dir;
    prepare_case(dir.path());
    const auto r = faulty_merge(dir.path(), fault);
    expect_clean_failure(dir.path(), r,
                         fault.ends_with("ENOSPC") ? "No space left on device" : "Input/output error");
  }
}

// A real full disk: a tmpfs holding the old output with room for half of the new one, mounted in a
// private mount namespace (unshare -rm: root, or a user namespace where the kernel allows them). The
// merge runs inside it; what the tmpfs holds afterwards is copied out for the checks.
TEST_F(MergeFaults, FullTmpfsGivesNoSpaceErrorAndKeepsTheOldOutput) {
  uint64_t old_bytes = 0, new_bytes = 0;
  for (const auto& [name, bytes] : ref->old_image) old_bytes += bytes.size() + 4096;
  for (const auto& [name, bytes] : ref->new_image) new_bytes += bytes.size();
  TempDir dir;
  prepare_case(dir.path());
  fs::create_directories(dir / "disk");
  fs::create_directories(dir / "after");
  write_file(dir / "full_disk.sh", "mount -t tmpfs -o size=" + std::to_string(old_bytes + new_bytes / 2) +
                                      " alloy-test disk || exit 0\necho MOUNTED\ncp -r out disk/out && cd disk && '" +
                                      std::string(ALLOY_BINARY) + "' merge ../new.yml out" + kMergeArgs +
                                      "\necho \"STATUS=$?\"\ncp -a . ../after/\n");
  testing::CliResult r;
  testing::detail::run_shell(testing::detail::in_dir(dir.path()) + "unshare -rm sh full_disk.sh 2>&1", r.output);
  if (r.output.find("MOUNTED") == std::string::npos)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root or user namespaces), so no real full disk:\n" << r.output;
  const size_t at = r.output.find("STATUS=");
  ASSERT_NE(at, std::string::npos) << r.output;
  r.status = std::stoi(r.output.substr(at + 7));
  expect_clean_failure(dir / "after", r, "No space left on device");
  EXPECT_EQ(image_of(dir / "after/out"), ref->old_image);
}

// SIGINT, SIGTERM and SIGKILL at a random moment of a merge replacing an existing output (12 runs,
// fixed seed, each in its own directory): the destination is always the old output or the complete
// new one. After SIGINT and SIGTERM no temporary directory remains; after SIGKILL the next merge
// removes it.
TEST_F(MergeFaults, SignalsAtRandomMomentsLeaveOldOrNewOutput) {
  std::chrono::steady_clock::duration full{};
  {
    TempDir dir;
    prepare_case(dir.path());
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(faulty_merge(dir.path(), "").status, 0);
    full = std::chrono::steady_clock::now() - start;
  }
  std::mt19937 random(20261206);
  int saw_old = 0, saw_new = 0;
  for (int run = 0; run < 12; ++run) {
    const int sig = (int[]){SIGINT, SIGTERM, SIGKILL}[run % 3];
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(full) *
                       std::uniform_real_distribution<double>(0.0, 1.2)(random);
    SCOPED_TRACE("signal " + std::to_string(sig) + " after " + std::to_string(delay.count()) + " us");
    TempDir dir;
    prepare_case(dir.path());
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(dir.path().c_str()) != 0) _exit(99);
      if (!::freopen("/dev/null", "w", stderr)) _exit(99);  // "interrupted" is expected here
      ::execl(ALLOY_BINARY, ALLOY_BINARY, "merge", "new.yml", "out", "--force", "-q", "-j", "2", "--out-shard-size",
              "40K", static_cast<char*>(nullptr));
      _exit(98);
    }
    std::this_thread::sleep_for(delay);
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const DirImage now = image_of(dir / "out");
    const bool is_old = now == ref->old_image, is_new = now == ref->new_image;
    EXPECT_TRUE(is_old || is_new) << "a mixed output";
    saw_old += is_old;
    saw_new += is_new;
    if (sig != SIGKILL) {
      EXPECT_EQ(leftovers(dir.path()), std::vector<std::string>{});
    } else if (!leftovers(dir.path()).empty()) {
      const auto r = run_alloy("merge new.yml out" + std::string(kMergeArgs), dir.path());
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_EQ(leftovers(dir.path()), std::vector<std::string>{}) << "the next merge removes what SIGKILL left";
      EXPECT_EQ(image_of(dir / "out"), ref->new_image);
    }
  }
  RecordProperty("interrupted_old", saw_old);
  RecordProperty("completed_new", saw_new);
}

}  // namespace
}  // namespace alloy
