// End-to-end tests of `alloy inspect`: runs the built binary on the real stories260K model (as a
// directory, a single file and a re-sharded mixed-dtype copy) and on corrupt inputs, and checks
// its numbers against ones computed here through the library. Also the number formatters.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/inspect.h"
#include "io/checkpoint.h"
#include "test_support.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kStoriesBase = fs::path(ALLOY_SHARED_DIR) / "stories260K" / "base";

using testing::TempDir;
using CliRun = testing::CliOutput;

CliRun run_inspect(std::vector<std::string> args) {
  args.insert(args.begin(), "inspect");
  return testing::run_alloy_apart(args);
}

// "label   value" lines of the text output, up to the first blank line.
std::map<std::string, std::string> text_fields(const std::string& out) {
  std::map<std::string, std::string> fields;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line) && !line.empty()) {
    size_t gap = line.find("  ", line.find_first_not_of(' '));
    if (gap == std::string::npos) continue;
    std::string label = line.substr(0, gap);
    label.erase(0, label.find_first_not_of(' '));
    fields[label] = line.substr(line.find_first_not_of(' ', gap));
  }
  return fields;
}

// Independent figures for a checkpoint, read through the library's reader.
struct Expected {
  uint64_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> bytes_by_dtype;
  std::vector<std::pair<std::string, TensorView>> views;  // storage order
};

Expected expected_for(const Checkpoint& ck) {
  Expected e;
  for (const auto& shard : ck.shards())
    for (const auto& entry : shard->entries()) {
      if (!ck.has(entry.name) || &ck.shard_of(entry.name) != shard.get()) continue;
      TensorView v = shard->view(entry);
      uint64_t elements = 1;
      for (int64_t d : v.shape) elements *= static_cast<uint64_t>(d);
      e.tensors += 1;
      e.parameters += elements;
      e.bytes += elements * dtype_size(v.dtype);
      e.bytes_by_dtype[std::string(dtype_name(v.dtype))] += elements * dtype_size(v.dtype);
      e.views.push_back({entry.name, v});
    }
  return e;
}

void expect_json_matches(const json& j, const Expected& e, bool with_tensors) {
  EXPECT_EQ(j.at("tensor_count").get<uint64_t>(), e.tensors);
  EXPECT_EQ(j.at("parameter_count").get<uint64_t>(), e.parameters);
  EXPECT_EQ(j.at("total_bytes").get<uint64_t>(), e.bytes);
  using BytesByDtype = std::map<std::string, uint64_t>;
  EXPECT_EQ(j.at("bytes_by_dtype").get<BytesByDtype>(), e.bytes_by_dtype);
  EXPECT_EQ(j.contains("tensors"), with_tensors);
  if (!with_tensors) return;
  const json& tensors = j.at("tensors");
  ASSERT_EQ(tensors.size(), e.views.size());
  for (size_t i = 0; i < e.views.size(); ++i) {
    EXPECT_EQ(tensors[i].at("name"), e.views[i].first);
    EXPECT_EQ(tensors[i].at("dtype"), std::string(dtype_name(e.views[i].second.dtype)));
    EXPECT_EQ(tensors[i].at("shape").get<Shape>(), e.views[i].second.shape);
  }
}

json parse_json(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "): " << text;
    return json::object();
  }
}

// ---------------------------------------------------------------------------------------------
// Valid checkpoints.

TEST(InspectCli, StoriesBaseDirectoryText) {
  Expected e = expected_for(*Checkpoint::open(kStoriesBase));
  ASSERT_EQ(e.tensors, 48u);
  ASSERT_EQ(e.parameters, 292'800u);
  CliRun r = run_inspect({kStoriesBase.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto fields = text_fields(r.out);
  EXPECT_EQ(fields["path"], kStoriesBase.string());
  EXPECT_EQ(fields["architecture"], "LlamaForCausalLM (llama)");
  EXPECT_EQ(fields["layers"], "5");
  EXPECT_EQ(fields["tensors"], std::to_string(e.tensors));
  EXPECT_EQ(fields["parameters"], "292,800 (292.8K)");
  EXPECT_EQ(fields["size"], "1,171,200 bytes (1.12 MiB)");
  EXPECT_EQ(fields["F32"], "1,171,200 bytes (1.12 MiB)");
  EXPECT_EQ(e.bytes, 1'171'200u);
  EXPECT_EQ(r.out.find("lm_head.weight"), std::string::npos) << "tensors are listed only with --tensors";
}

TEST(InspectCli, StoriesBaseJson) {
  Expected e = expected_for(*Checkpoint::open(kStoriesBase));
  json config = read_json_file(kStoriesBase / "config.json");
  for (bool with_tensors : {false, true}) {
    std::vector<std::string> args = {kStoriesBase.string(), "--json"};
    if (with_tensors) args.push_back("--tensors");
    CliRun r = run_inspect(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    json j = parse_json(r.out);
    EXPECT_EQ(j.at("path"), kStoriesBase.string());
    EXPECT_EQ(j.at("architecture"), config["architectures"][0]);
    EXPECT_EQ(j.at("model_type"), config["model_type"]);
    EXPECT_EQ(j.at("num_layers"), config["num_hidden_layers"]);
    expect_json_matches(j, e, with_tensors);
  }
}

TEST(InspectCli, TensorsListedInStorageOrder) {
  Expected e = expected_for(*Checkpoint::open(kStoriesBase));
  CliRun r = run_inspect({kStoriesBase.string(), "--tensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream in(r.out.substr(r.out.find("\n\n") + 2));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.substr(0, 4), "name") << line;
  for (const auto& [name, view] : e.views) {
    ASSERT_TRUE(std::getline(in, line)) << "missing " << name;
    std::istringstream cells(line);
    std::string listed_name, dtype;
    cells >> listed_name >> dtype;
    EXPECT_EQ(listed_name, name);
    EXPECT_EQ(dtype, "F32");
    EXPECT_NE(line.find(shape_str(view.shape)), std::string::npos) << line;
  }
  EXPECT_FALSE(std::getline(in, line)) << "extra line: " << line;
}

TEST(InspectCli, SingleSafetensorsFile) {
  fs::path file = kStoriesBase / "model.safetensors";
  Expected e = expected_for(*Checkpoint::open(file));
  CliRun r = run_inspect({file.string(), "--json", "--tensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  json j = parse_json(r.out);
  EXPECT_EQ(j.at("path"), file.string());
  expect_json_matches(j, e, true);
  CliRun text = run_inspect({file.string()});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text_fields(text.out)["tensors"], "48");
}

// stories260K re-sharded into two files, the second one converted to BF16.
void write_mixed_sharded_copy(const fs::path& dir) {
  auto base = Checkpoint::open(kStoriesBase);
  std::vector<std::vector<float>> converted;
  std::vector<std::vector<uint16_t>> halves;
  std::vector<NamedTensor> first, second;
  converted.reserve(base->tensor_names().size());
  halves.reserve(base->tensor_names().size());
  json weight_map = json::object();
  for (const auto& name : base->tensor_names()) {
    TensorView v = base->tensor(name);
    if (name.find("layers.3") == std::string::npos && name.find("layers.4") == std::string::npos &&
        name != "model.norm.weight") {
      first.push_back({name, v});
      weight_map[name] = "model-00001-of-00002.safetensors";
      continue;
    }
    auto& f32 = converted.emplace_back(static_cast<size_t>(v.numel()));
    to_f32(v.dtype, v.data, f32.data(), f32.size());
    auto& bf16 = halves.emplace_back(f32.size());
    from_f32(f32.data(), DType::BF16, bf16.data(), f32.size());
    second.push_back({name, {DType::BF16, v.shape, reinterpret_cast<const std::byte*>(bf16.data()), bf16.size() * 2}});
    weight_map[name] = "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir / "model-00001-of-00002.safetensors", first);
  write_safetensors(dir / "model-00002-of-00002.safetensors", second);
  write_json_file(dir / "model.safetensors.index.json", {{"metadata", json::object()}, {"weight_map", weight_map}});
  fs::copy_file(kStoriesBase / "config.json", dir / "config.json");
}

TEST(InspectCli, ShardedMixedDtypeCheckpoint) {
  TempDir dir;
  write_mixed_sharded_copy(dir.path());
  Expected e = expected_for(*Checkpoint::open(dir.path()));
  ASSERT_EQ(e.bytes_by_dtype.size(), 2u);
  CliRun r = run_inspect({dir.path().string(), "--json", "--tensors"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = parse_json(r.out);
  expect_json_matches(j, e, true);
  EXPECT_EQ(j.at("parameter_count"), 292'800u);
  EXPECT_LT(j.at("total_bytes").get<uint64_t>(), 1'171'200u);

  CliRun text = run_inspect({dir.path().string()});
  ASSERT_EQ(text.status, 0) << text.err;
  auto fields = text_fields(text.out);
  EXPECT_EQ(fields["BF16"].find(with_thousands(e.bytes_by_dtype["BF16"])), fields["BF16"].find_first_not_of(' '));
  EXPECT_EQ(fields["F32"].find(with_thousands(e.bytes_by_dtype["F32"])), fields["F32"].find_first_not_of(' '));
}

// ---------------------------------------------------------------------------------------------
// Invalid input: exit status 1, nothing on stdout, one "alloy: error:" line naming the file.

void expect_one_line_error(const CliRun& r, const std::string& names) {
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "") << "stdout must stay empty";
  EXPECT_EQ(r.err.rfind("alloy: error: ", 0), 0u) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
  EXPECT_NE(r.err.find(names), std::string::npos) << r.err;
}

std::string stories_bytes() { return testing::read_file(kStoriesBase / "model.safetensors"); }

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(InspectCliErrors, TruncatedFile) {
  TempDir dir;
  fs::path file = dir.path() / "truncated.safetensors";
  std::string bytes = stories_bytes();
  write_bytes(file, bytes.substr(0, bytes.size() - 100));
  for (const char* flag : {"--tensors", "--json"}) {
    CliRun r = run_inspect({file.string(), flag});
    expect_one_line_error(r, file.string());
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  }
}

TEST(InspectCliErrors, TrailingBytes) {
  TempDir dir;
  fs::path file = dir.path() / "trailing.safetensors";
  write_bytes(file, stories_bytes() + "junk");
  CliRun r = run_inspect({file.string()});
  expect_one_line_error(r, file.string());
  EXPECT_NE(r.err.find("trailing bytes"), std::string::npos) << r.err;
}

TEST(InspectCliErrors, CorruptHeaderInModelDirectory) {
  TempDir dir;
  std::string bytes = stories_bytes();
  size_t at = bytes.find("data_offsets");
  ASSERT_NE(at, std::string::npos);
  bytes[at - 2] = '\xff';  // the comma before the key: invalid UTF-8
  write_bytes(dir.path() / "model.safetensors", bytes);
  fs::copy_file(kStoriesBase / "config.json", dir.path() / "config.json");
  CliRun r = run_inspect({dir.path().string(), "--json"});
  expect_one_line_error(r, (dir.path() / "model.safetensors").string());
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;
}

TEST(InspectCliErrors, HeaderLengthTooLarge) {
  TempDir dir;
  fs::path file = dir.path() / "huge_header.safetensors";
  std::string bytes = stories_bytes();
  bytes[5] = '\x10';  // header length becomes > 100 MB
  write_bytes(file, bytes);
  CliRun r = run_inspect({file.string()});
  expect_one_line_error(r, file.string());
  EXPECT_NE(r.err.find("100 MB"), std::string::npos) << r.err;
}

TEST(InspectCliErrors, NotASafetensorsFile) {
  TempDir dir;
  fs::path file = dir.path() / "config.json";
  fs::copy_file(kStoriesBase / "config.json", file);
  expect_one_line_error(run_inspect({file.string()}), file.string());
}

TEST(InspectCliErrors, MissingPath) {
  TempDir dir;
  fs::path missing = dir.path() / "no_such_model";
  CliRun r = run_inspect({missing.string(), "--json"});
  expect_one_line_error(r, missing.string());
}

TEST(InspectCliErrors, DirectoryWithoutWeights) {
  TempDir dir;
  fs::copy_file(kStoriesBase / "config.json", dir.path() / "config.json");
  CliRun r = run_inspect({dir.path().string()});
  expect_one_line_error(r, dir.path().string());
  EXPECT_NE(r.err.find("no weights found"), std::string::npos) << r.err;
}

TEST(InspectCliErrors, IndexPointsToMissingShard) {
  TempDir dir;
  write_mixed_sharded_copy(dir.path());
  fs::remove(dir.path() / "model-00002-of-00002.safetensors");
  CliRun r = run_inspect({dir.path().string(), "--tensors"});
  expect_one_line_error(r, "model-00002-of-00002.safetensors");
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers and the library entry point.

TEST(InspectFormat, ThousandsSeparators) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000), "1,000");
  EXPECT_EQ(with_thousands(292800), "292,800");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(UINT64_MAX), "18,446,744,073,709,551,615");
}

TEST(InspectFormat, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.00 KiB");
  EXPECT_EQ(human_bytes(1171200), "1.12 MiB");
  EXPECT_EQ(human_bytes(1024ull * 1024 - 1), "1.00 MiB") << "no '1024.00 KiB'";
  EXPECT_EQ(human_bytes(13'476'839'424ull), "12.55 GiB");
  EXPECT_EQ(human_bytes(UINT64_MAX), "16.00 EiB");
}

TEST(InspectFormat, HumanCount) {
  EXPECT_EQ(human_count(0), "0");
  EXPECT_EQ(human_count(999), "999");
  EXPECT_EQ(human_count(1000), "1.0K");
  EXPECT_EQ(human_count(292800), "292.8K");
  EXPECT_EQ(human_count(999'999), "1.0M") << "no '1000.0K'";
  EXPECT_EQ(human_count(6'738'415'616ull), "6.7B");
}

TEST(InspectLibrary, SummaryOfStoriesBase) {
  CheckpointSummary s = summarize_checkpoint(kStoriesBase);
  EXPECT_EQ(s.architecture, "LlamaForCausalLM");
  EXPECT_EQ(s.model_type, "llama");
  EXPECT_EQ(s.num_layers, 5);
  EXPECT_EQ(s.tensor_count, 48u);
  EXPECT_EQ(s.parameter_count, 292'800u);
  EXPECT_EQ(s.total_bytes, 1'171'200u);
  EXPECT_EQ(s.bytes_by_dtype.at("F32"), 1'171'200u);
  // The JSON text is one valid object equal to summary_json.
  EXPECT_EQ(json::parse(summary_json_text(s, true)), json::parse(summary_json(s, true).dump()));
  EXPECT_EQ(json::parse(summary_json_text(s, false)), json::parse(summary_json(s, false).dump()));
}

TEST(InspectLibrary, EmptyCheckpoint) {
  TempDir dir;
  write_safetensors(dir.path() / "empty.safetensors", {});
  CheckpointSummary s = summarize_checkpoint(dir.path() / "empty.safetensors");
  EXPECT_EQ(s.tensor_count, 0u);
  EXPECT_EQ(s.parameter_count, 0u);
  json j = json::parse(summary_json_text(s, true));
  EXPECT_TRUE(j.at("tensors").empty());
  EXPECT_NE(summary_text(s, true).find("0 bytes (0 B)"), std::string::npos);
}

}  // namespace
}  // namespace alloy
