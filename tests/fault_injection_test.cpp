// Merges broken on purpose (LevelDB's fault_injection_test in spirit): the shim tools/faultfs makes
// the n-th write, fsync, rename, mmap or ftruncate of the `alloy` process fail, for n over every
// such call of a merge that replaces an existing output; signals arrive at random moments. Each
// time: a clear error, no temporary directory left, and the destination either the old output,
// byte for byte, or the complete new one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "test_support.h"

namespace alloy {
namespace {

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

// A family of three small models, an old output "out" (weights 1:1) and, in ref/out, the complete
// new output (weights 1:3) that each faulty merge attempts to put in its place.
class MergeFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    write_fixture_family(small_llama(2), tmp / "family");
    write_file(tmp / "old.yml", recipe(1));
    write_file(tmp / "new.yml", recipe(3));
    auto r = run_alloy("merge old.yml out -q -j 1 --out-shard-size 40K", tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    fs::create_directories(tmp / "ref");
    r = run_alloy("merge ../new.yml out -q -j 1 --out-shard-size 40K", tmp / "ref");
    ASSERT_EQ(r.status, 0) << r.output;
    old_image = image_of(tmp / "out");
    new_image = image_of(tmp / "ref/out");
    ASSERT_GT(old_image.count("model.safetensors.index.json"), 0u) << "the fixture must give several shards";
    ASSERT_NE(old_image, new_image);
  }

  static std::string recipe(int second_weight) {
    return "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n"
           "  - model: family/ft2\n    parameters: {weight: " + std::to_string(second_weight) + "}\n";
  }

  // Runs the replacing merge under the shim; `fault` is ALLOY_FAULT ("" for none).
  testing::CliResult faulty_merge(const std::string& fault, const fs::path& counts = {}) {
    std::string env = "LD_PRELOAD='" + std::string(ALLOY_FAULTFS) + "' ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 ";
    if (!fault.empty()) env += "ALLOY_FAULT=" + fault + " ";
    if (!counts.empty()) env += "ALLOY_FAULT_COUNTS='" + counts.string() + "' ";
    testing::CliResult r;
    r.status = testing::detail::run_shell(testing::detail::in_dir(tmp.path()) + env + "'" + ALLOY_BINARY +
                                              "' merge new.yml out --force -q -j 2 --out-shard-size 40K 2>&1",
                                          r.output);
    return r;
  }

  TempDir tmp;
  DirImage old_image, new_image;
};

std::map<std::string, long> read_counts(const fs::path& file) {
  std::map<std::string, long> counts;
  std::istringstream in(read_file(file));
  std::string op;
  long n = 0;
  while (in >> op >> n) counts[op] = n;
  return counts;
}

TEST_F(MergeFaults, EveryFailedCallLeavesTheOldOutputAndNoTemporaryDirectory) {
  // A clean run under the shim counts the calls (and shows the shim changes nothing by itself).
  auto r = faulty_merge("", tmp / "counts");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(image_of(tmp / "out"), new_image);
  const std::map<std::string, long> counts = read_counts(tmp / "counts");
  ASSERT_GE(counts.at("write"), 4) << "shard headers, tensors, config and index are written";
  ASSERT_GE(counts.at("fsync"), 3);
  ASSERT_GE(counts.at("rename"), 1);
  ASSERT_GE(counts.at("mmap"), 2) << "one per input model";
  // Put the old output back for the faulty runs.
  ASSERT_EQ(run_alloy("merge old.yml out --force -q -j 1 --out-shard-size 40K", tmp.path()).status, 0);
  ASSERT_EQ(image_of(tmp / "out"), old_image);

  int cases = 0;
  for (const auto& [op, total] : counts) {
    // Every call when there are few, else the first ones, the last ones and a spread between.
    std::set<long> picks;
    for (long n = 1; n <= total; n += total <= 12 ? 1 : total / 6) picks.insert(n);
    for (long n : {1L, 2L, total - 1, total}) if (n >= 1) picks.insert(n);
    for (long n : picks) {
      const std::string err = op == "write" ? "ENOSPC" : "EIO";
      const std::string fault = op + ":" + std::to_string(n) + ":" + err;
      r = faulty_merge(fault);
      ++cases;
      EXPECT_NE(r.status, 0) << fault << " went unnoticed:\n" << r.output;
      EXPECT_NE(r.output.find("alloy: error: "), std::string::npos) << fault << ":\n" << r.output;
      const std::string cause = err == "ENOSPC" ? "No space left on device" : "Input/output error";
      EXPECT_NE(r.output.find(cause), std::string::npos) << fault << ": the message must say why:\n" << r.output;
      EXPECT_EQ(leftovers(tmp.path()), std::vector<std::string>{}) << fault;
      EXPECT_EQ(image_of(tmp / "out"), old_image) << fault << " changed the existing output";
    }
  }
  EXPECT_GE(cases, 12);
}

// SIGINT, SIGTERM and SIGKILL at a random moment of a merge replacing an existing output: the
// destination is always the old output or the complete new one. After SIGKILL the temporary
// directory may stay (the next merge removes it; merge_test checks that); after the others, not.
TEST_F(MergeFaults, SignalsAtRandomMomentsLeaveOldOrNewOutput) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(faulty_merge("").status, 0);
  const auto full = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(run_alloy("merge old.yml out --force -q -j 1 --out-shard-size 40K", tmp.path()).status, 0);
  std::mt19937 random(20261206);
  int saw_old = 0, saw_new = 0;
  for (int run = 0; run < 15; ++run) {
    const int sig = (int[]){SIGINT, SIGTERM, SIGKILL}[run % 3];
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(full) *
                       std::uniform_real_distribution<double>(0.0, 1.2)(random);
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(tmp.path().c_str()) != 0) _exit(99);
      ::execl(ALLOY_BINARY, ALLOY_BINARY, "merge", "new.yml", "out", "--force", "-q", "-j", "2", "--out-shard-size",
              "40K", static_cast<char*>(nullptr));
      _exit(98);
    }
    std::this_thread::sleep_for(delay);
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const DirImage now = image_of(tmp / "out");
    const bool is_old = now == old_image, is_new = now == new_image;
    EXPECT_TRUE(is_old || is_new) << "signal " << sig << " after " << delay.count() << " us left a mixed output";
    saw_old += is_old;
    saw_new += is_new;
    if (sig != SIGKILL) {
      EXPECT_EQ(leftovers(tmp.path()), std::vector<std::string>{}) << "signal " << sig;
    }
    if (is_new) {
      ASSERT_EQ(run_alloy("merge old.yml out --force -q -j 1 --out-shard-size 40K", tmp.path()).status, 0);
    }
  }
  // The next merge removes what a SIGKILL left.
  auto r = run_alloy("merge new.yml out --force -j 1 --out-shard-size 40K", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(leftovers(tmp.path()), std::vector<std::string>{});
  EXPECT_EQ(image_of(tmp / "out"), new_image);
  RecordProperty("interrupted_old", saw_old);
  RecordProperty("completed_new", saw_new);
}

}  // namespace
}  // namespace alloy
