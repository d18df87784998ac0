// End-to-end tests of `alloy eval` on the real stories260K models: every cell of the perplexity
// table llama.cpp measured (tests/data/stories260K/eval/ppl.md) within 1%, the float64 average of
// the three fine-tunes included, and the documented JSON shape and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::run_alloy_apart;
using testing::TempDir;

const fs::path kData = fs::path(ALLOY_SHARED_DIR) / "stories260K";

// ppl.md's table: row label -> column header -> perplexity ("**17.5**" read as 17.5).
std::map<std::string, std::map<std::string, double>> llama_cpp_table() {
  std::istringstream in(read_file(kData / "eval/ppl.md"));
  std::string line;
  std::vector<std::string> header;
  std::map<std::string, std::map<std::string, double>> table;
  auto cells = [](const std::string& row) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream s(row.substr(1));
    while (std::getline(s, cell, '|')) {
      std::erase(cell, '*');
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      out.push_back(cell);
    }
    return out;
  };
  while (std::getline(in, line)) {
    if (line.rfind("| model", 0) == 0) {
      header = cells(line);
    } else if (!header.empty() && line.rfind("|", 0) == 0 && line.rfind("|---", 0) != 0) {
      auto row = cells(line);
      for (size_t c = 1; c < row.size() && c < header.size(); ++c) table[row[0]][header[c]] = std::stod(row[c]);
    }
  }
  return table;
}

nlohmann::json eval_json(std::vector<std::string> args) {
  args.insert(args.begin(), {"eval", "--json", "-q"});
  auto r = run_alloy_apart(args);
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(EvalE2E, ReproducesEveryCellOfLlamaCppsPerplexityTable) {
  auto table = llama_cpp_table();
  ASSERT_EQ(table.size(), 5u) << "ppl.md's table changed shape";
  TempDir tmp;
  // The last row is the float64 average of the three fine-tunes: alloy's linear merge, in f32.
  auto merged = run_alloy("merge '" + (fs::path(ALLOY_SOURCE_DIR) / "examples/stories260K_soup.yml").string() + "' '" +
                              (tmp / "soup").string() + "' -q",
                          ALLOY_SOURCE_DIR);
  ASSERT_EQ(merged.status, 0) << merged.output;
  std::map<std::string, std::string> model_dirs{{"base", (kData / "base").string()},
                                                {"python", (kData / "python").string()},
                                                {"cheaders", (kData / "cheaders").string()},
                                                {"man", (kData / "man").string()}};
  for (const auto& [row, _] : table)
    if (row.rfind("linear average", 0) == 0) model_dirs[row] = (tmp / "soup").string();
  ASSERT_EQ(model_dirs.size(), 5u);
  std::vector<std::string> args;
  for (const auto& [_, dir] : model_dirs) args.push_back(dir);
  // Under the sanitizers one column of the four: the same code paths in a quarter of the time.
#if defined(__SANITIZE_ADDRESS__)
  const std::vector<std::string> texts = {"python.txt"};
#else
  const std::vector<std::string> texts = {"python.txt", "cheaders.txt", "man.txt", "stories.txt"};
#endif
  for (const std::string& text : texts) args.insert(args.end(), {"--text", (kData / "eval" / text).string()});
  nlohmann::json j = eval_json(args);
  ASSERT_EQ(j["results"].size(), 5 * texts.size());
  int checked = 0;
  for (const auto& [row, dir] : model_dirs)
    for (const auto& result : j["results"]) {
      if (result["model"] != dir) continue;
      const std::string text = fs::path(result["text"].get<std::string>()).filename().string();
      const double want = table.at(row).at(text);
      const double got = result["ppl"].get<double>();
      // llama.cpp prints 3-4 significant digits: allow 1% plus the rounding of the printed figure.
      const double printed_half_unit = want >= 100 ? 0.05 : want >= 10 ? 0.05 : 0.005;
      EXPECT_NEAR(got, want, 0.01 * want + printed_half_unit) << row << " on " << text;
      EXPECT_NEAR(std::exp(result["nll"].get<double>()), got, 1e-9 * got);
      // 40 KB texts: whole 128-token chunks, 63 scored in each.
      EXPECT_EQ(result["tokens"].get<int64_t>() % 63, 0);
      EXPECT_GT(result["tokens"].get<int64_t>(), 0);
      ++checked;
    }
  EXPECT_EQ(checked, static_cast<int>(5 * texts.size()));
}

// `alloy merge --eval` scores the merged model as `alloy eval` does: the soup's row of ppl.md.
TEST(EvalE2E, MergeWithEvalPrintsTheMergedModelsPerplexity) {
  TempDir tmp;
  const std::string out = (tmp / "soup").string();
  auto r = run_alloy_apart({"merge", (fs::path(ALLOY_SOURCE_DIR) / "examples/stories260K_soup.yml").string(), out,
                            "-q", "--eval", (kData / "eval/python.txt").string()},
                           ALLOY_SOURCE_DIR);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_NE(header.find("python.txt"), std::string::npos) << r.out;
  ASSERT_EQ(row.rfind(out, 0), 0u) << r.out;
  const double ppl = std::stod(row.substr(out.size()));
  EXPECT_NEAR(ppl, 19.5, 0.01 * 19.5 + 0.05);  // ppl.md: the linear average on python.txt

  auto missing = run_alloy("merge '" + (fs::path(ALLOY_SOURCE_DIR) / "examples/stories260K_soup.yml").string() +
                               "' '" + (tmp / "never").string() + "' --eval '" + (tmp / "none.txt").string() + "'",
                           ALLOY_SOURCE_DIR);
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("none.txt"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(tmp / "never"));  // refused before merging
}

TEST(EvalE2E, ExplainsWhatIsWrong) {
  auto no_text = run_alloy("eval '" + (kData / "base").string() + "'");
  EXPECT_NE(no_text.status, 0);
  EXPECT_NE(no_text.output.find("--text"), std::string::npos) << no_text.output;

  TempDir tmp;
  testing::write_file(tmp / "short.txt", "Once upon a time");
  auto too_short = run_alloy("eval '" + (kData / "base").string() + "' --text '" + (tmp / "short.txt").string() + "'");
  EXPECT_NE(too_short.status, 0);
  EXPECT_NE(too_short.output.find("fewer than one chunk"), std::string::npos) << too_short.output;
  EXPECT_NE(too_short.output.find("short.txt"), std::string::npos) << too_short.output;

  auto no_model = run_alloy("eval '" + (tmp / "nothing").string() + "' --text '" + (tmp / "short.txt").string() + "'");
  EXPECT_NE(no_model.status, 0);
  EXPECT_NE(no_model.output.find("nothing"), std::string::npos) << no_model.output;

  auto bad_specialist = run_alloy("eval '" + (kData / "base").string() + "' --text '" +
                                  (kData / "eval/python.txt").string() + "' --specialist python=nobody");
  EXPECT_NE(bad_specialist.status, 0);
  EXPECT_NE(bad_specialist.output.find("no model is named 'nobody'"), std::string::npos) << bad_specialist.output;
}

}  // namespace
}  // namespace alloy
