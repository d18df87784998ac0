// Replays every input of tests/corpus/<target>/ through its fuzz target (fuzz/fuzz_target.h) in
// the normal build, so the seeds and every input a fuzzer once crashed on stay fixed. A name
// says what the parser must do: "ok-*" is a real file and must be accepted, "bad-*" must be
// refused with alloy::Error; any other name (inputs the fuzzer kept) may go either way, but
// nothing may escape except alloy::Error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "util/error.h"

namespace alloy::fuzz {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CorpusReplay : public ::testing::TestWithParam<FuzzTarget> {};

TEST_P(CorpusReplay, EveryInputIsAcceptedOrRefusedAsItsNameSays) {
  const FuzzTarget& target = GetParam();
  const fs::path dir = fs::path(ALLOY_SOURCE_DIR) / "tests" / "corpus" / target.name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: every fuzz target needs seed inputs";
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) inputs.push_back(entry.path());
  std::sort(inputs.begin(), inputs.end());
  int accepted_seeds = 0;
  for (const fs::path& input : inputs) {
    const std::string name = input.filename().string();
    const std::vector<uint8_t> bytes = read_bytes(input);
    std::string refusal;
    try {
      target.run(bytes);
    } catch (const Error& e) {
      refusal = e.what();
      if (refusal.empty()) ADD_FAILURE() << input << ": refused with an empty message";
    }
    if (name.rfind("ok-", 0) == 0) {
      EXPECT_EQ(refusal, "") << input << " is a real file and must be accepted";
      ++accepted_seeds;
    }
    if (name.rfind("bad-", 0) == 0) {
      EXPECT_NE(refusal, "") << input << " must be refused";
    }
  }
  EXPECT_GT(accepted_seeds, 0) << dir << " has no ok-* seed: the target would only see garbage";
}

INSTANTIATE_TEST_SUITE_P(FuzzTargets, CorpusReplay, ::testing::ValuesIn(kFuzzTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace alloy::fuzz
