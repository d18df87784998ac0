// End-to-end tests of `alloy merge` on generated fixture families and on the real stories260K
// fine-tunes: results against float64 computations done here, gradients and filters per layer,
// frankenmerge renaming, tied embeddings, sharding, determinism across thread counts, atomic
// output under errors and signals, and mergekit-yaml's options. Recipe errors are cases of
// tests/recipes/ (recipe_cases_test.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <fstream>
#include <sstream>
#include <thread>

#include "page_cache.h"
#include "test_support.h"
#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "tensor/convert.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::small_llama;
using testing::TempDir;
using testing::expect_close;
using testing::write_file;
using testing::tensor_values;
using testing::weighted_sum;

TEST(MergeE2E, RealFineTunesLinearEqualsFloat64Average) {
  TempDir tmp;
  auto r = run_alloy("merge examples/stories260K_soup.yml '" + (tmp / "soup").string() + "' -j 2", ALLOY_SOURCE_DIR);
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp / "soup");
  const fs::path data = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";
  auto a = Checkpoint::open(data / "python"), b = Checkpoint::open(data / "cheaders"), c = Checkpoint::open(data / "man");
  ASSERT_EQ(out->tensor_names().size(), a->tensor_names().size());
  for (const auto& name : a->tensor_names()) {
    auto va = tensor_values(*a, name), vb = tensor_values(*b, name), vc = tensor_values(*c, name);
    const std::vector<double> want = weighted_sum({va, vb, vc}, {1 / 3.0, 1 / 3.0, 1 / 3.0});
    ASSERT_EQ(out->tensor(name).dtype, DType::F32);
    expect_close(tensor_values(*out, name), want, DType::F32, name);
  }
  EXPECT_EQ(out->config()["num_hidden_layers"], 5);
  EXPECT_TRUE(fs::exists(tmp / "soup" / "tokenizer.model"));
  EXPECT_TRUE(fs::exists(tmp / "soup" / "tokenizer_config.json"));
  std::string card = read_file(tmp / "soup" / "README.md");
  EXPECT_EQ(card.rfind("---\nbase_model:\n", 0), 0u) << card;
  EXPECT_NE(card.find("- alloy"), std::string::npos);
  EXPECT_EQ(read_file(tmp / "soup" / "alloy_config.yml"),
            read_file(fs::path(ALLOY_SOURCE_DIR) / "examples/stories260K_soup.yml"));
  EXPECT_NE(r.output.find("merged 48 tensors"), std::string::npos) << r.output;
}

// weight: [1, 0] and [0, 1] over 5 layers, plus a filter that pins the MLP weights: every layer's
// tensors must equal the interpolation computed here.
TEST(MergeE2E, GradientsAndFiltersPerLayer) {
  TempDir tmp;
  FixtureSpec spec = small_llama(5);
  write_fixture_family(spec, tmp / "family");
  write_file(tmp / "recipe.yml", R"(merge_method: linear
models:
  - model: family/ft1
    parameters:
      weight:
        - filter: mlp.down_proj
          value: 0.25
        - value: [1, 0]
  - model: family/ft2
    parameters:
      weight:
        - filter: mlp.down_proj
          value: 0.75
        - value: [0, 1]
)");
  auto r = run_alloy("merge recipe.yml out -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto r_old = run_alloy("merge recipe.yml out_t1 -q --post-weight-t 1", tmp.path());
  ASSERT_EQ(r_old.status, 0) << r_old.output;
  auto out = Checkpoint::open(tmp / "out"), out_t1 = Checkpoint::open(tmp / "out_t1");
  auto a = Checkpoint::open(tmp / "family/ft1"), b = Checkpoint::open(tmp / "family/ft2");
  auto check_in = [&](const Checkpoint& merged, const std::string& name, double w1) {
    auto va = tensor_values(*a, name), vb = tensor_values(*b, name);
    const std::vector<double> want = weighted_sum({va, vb}, {w1, 1 - w1});
    expect_close(tensor_values(merged, name), want, DType::F32, name);
  };
  auto check = [&](const std::string& name, double w1) { check_in(*out, name, w1); };
  for (int layer = 0; layer < 5; ++layer) {
    double t = layer / 4.0;
    std::string p = "model.layers." + std::to_string(layer) + ".";
    check(p + "self_attn.q_proj.weight", 1 - t);
    check(p + "input_layernorm.weight", 1 - t);
    check(p + "mlp.up_proj.weight", 1 - t);
    check(p + "mlp.down_proj.weight", 0.25);
  }
  check("model.embed_tokens.weight", 1.0);  // pre-layer weights: t = 0
  check("model.norm.weight", 1.0);          // post-layer weights: t = 0 too, as mergekit >= 0.1.2
  check("lm_head.weight", 1.0);
  // --post-weight-t 1: the last layer's value, [1, 0] -> 0 for ft1, as earlier mergekit.
  check_in(*out_t1, "model.norm.weight", 0.0);
  check_in(*out_t1, "lm_head.weight", 0.0);
  check_in(*out_t1, "model.layers.4.mlp.up_proj.weight", 0.0);
}

TEST(MergeE2E, FrankenmergeRenumbersLayersAndSetsCount) {
  TempDir tmp;
  FixtureSpec spec = small_llama(4);
  write_fixture_family(spec, tmp / "family");
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples/frankenmerge.yml", tmp / "recipe.yml");
  auto r = run_alloy("merge recipe.yml out -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp / "out");
  auto a = Checkpoint::open(tmp / "family/ft1"), b = Checkpoint::open(tmp / "family/ft2");
  EXPECT_EQ(out->config()["num_hidden_layers"], 6);
  EXPECT_EQ(out->config()["torch_dtype"], "bfloat16");
  // 1 embedding + 6 layers x 9 tensors + norm + lm_head
  EXPECT_EQ(out->tensor_names().size(), 1u + 6 * 9 + 2);
  const int source_layer[6] = {0, 1, 2, 1, 2, 3};
  for (int k = 0; k < 6; ++k) {
    const Checkpoint& src = k < 3 ? *a : *b;
    for (const char* t : {"self_attn.k_proj.weight", "mlp.gate_proj.weight", "post_attention_layernorm.weight"}) {
      std::string out_name = "model.layers." + std::to_string(k) + "." + t;
      std::string in_name = "model.layers." + std::to_string(source_layer[k]) + "." + t;
      auto got = tensor_values(*out, out_name), want = tensor_values(src, in_name);
      for (size_t i = 0; i < want.size(); ++i) {
        float rounded = bf16_to_f32(f32_to_bf16(static_cast<float>(want[i])));
        ASSERT_EQ(got[i], rounded) << out_name << " from " << in_name;
      }
    }
  }
  EXPECT_FALSE(out->has("model.layers.6.mlp.up_proj.weight"));
  // Pre-layer weights come from the first slice's model, post-layer ones from the last's.
  EXPECT_EQ(tensor_values(*out, "model.embed_tokens.weight")[3],
            bf16_to_f32(f32_to_bf16(static_cast<float>(tensor_values(*a, "model.embed_tokens.weight")[3]))));
  EXPECT_EQ(tensor_values(*out, "lm_head.weight")[3],
            bf16_to_f32(f32_to_bf16(static_cast<float>(tensor_values(*b, "lm_head.weight")[3]))));
}

TEST(MergeE2E, TiedEmbeddingsStayTied) {
  TempDir tmp;
  FixtureSpec spec = small_llama(2);
  spec.tied = true;
  write_fixture_family(spec, tmp / "family");
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples/linear.yml", tmp / "recipe.yml");
  auto r = run_alloy("merge recipe.yml out -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp / "out");
  EXPECT_FALSE(out->has("lm_head.weight"));
  EXPECT_TRUE(out->has("model.embed_tokens.weight"));
}

// One model with an lm_head and one tied: the tied one contributes its embedding (spec §4.5).
TEST(MergeE2E, UntiedAndTiedMixGivesExplicitLmHead) {
  TempDir tmp;
  FixtureSpec untied = small_llama(2);
  write_fixture_family(untied, tmp / "u");
  FixtureSpec tied = small_llama(2);
  tied.tied = true;
  write_fixture_family(tied, tmp / "t");
  write_file(tmp / "recipe.yml", "merge_method: linear\nmodels:\n  - model: u/ft1\n    parameters: {weight: 1}\n"
                                 "  - model: t/ft1\n    parameters: {weight: 1}\n");
  auto r = run_alloy("merge recipe.yml out -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp / "out");
  auto u = Checkpoint::open(tmp / "u/ft1"), t = Checkpoint::open(tmp / "t/ft1");
  auto lu = tensor_values(*u, "lm_head.weight"), et = tensor_values(*t, "model.embed_tokens.weight");
  const std::vector<double> want = weighted_sum({lu, et}, {0.5, 0.5});
  expect_close(tensor_values(*out, "lm_head.weight"), want, DType::F32, "lm_head");
}

TEST(MergeE2E, ShardedOutputRoundTripsAndIsByteIdenticalAcrossThreadCounts) {
  TempDir tmp;
  FixtureSpec spec = small_llama(4);
  spec.dtype = DType::BF16;
  spec.shard_bytes = 20000;  // inputs sharded too
  write_fixture_family(spec, tmp / "family");
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples/linear.yml", tmp / "recipe.yml");
  auto r1 = run_alloy("merge recipe.yml one -q -j 1 --out-shard-size 30KB", tmp.path());
  ASSERT_EQ(r1.status, 0) << r1.output;
  auto r8 = run_alloy("merge recipe.yml eight -q -j 8 --out-shard-size 30KB", tmp.path());
  ASSERT_EQ(r8.status, 0) << r8.output;
  auto whole = run_alloy("merge recipe.yml whole -q", tmp.path());
  ASSERT_EQ(whole.status, 0) << whole.output;

  auto index = read_json_file(tmp / "one/model.safetensors.index.json");
  auto out = Checkpoint::open(tmp / "one");
  auto single = Checkpoint::open(tmp / "whole");
  ASSERT_GT(out->shards().size(), 2u);
  uint64_t total = 0;
  std::set<std::string> listed;
  for (auto& [name, file] : index["weight_map"].items()) {
    listed.insert(name);
    const auto& shard = out->shard_of(name);
    EXPECT_EQ(shard.path().filename().string(), file.get<std::string>());
    total += out->tensor(name).nbytes;
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  EXPECT_EQ(listed, std::set<std::string>(single->tensor_names().begin(), single->tensor_names().end()));
  for (const auto& shard : out->shards()) {
    // each shard stays under the limit unless it holds one tensor
    if (shard->entries().size() > 1) {
      uint64_t bytes = 0;
      for (const auto& e : shard->entries()) bytes += e.end - e.begin;
      EXPECT_LE(bytes, 30000u) << shard->path();
    }
  }
  for (const auto& name : single->tensor_names()) {
    auto a = out->tensor(name), b = single->tensor(name);
    ASSERT_EQ(a.nbytes, b.nbytes);
    ASSERT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
  }
  for (const auto& entry : fs::directory_iterator(tmp / "one")) {
    std::string f = entry.path().filename().string();
    if (f == "README.md") continue;  // names the output directory
    EXPECT_EQ(read_file(entry.path()), read_file(tmp / "eight" / f)) << f;
  }
}

// --input-cache drop: the same bits as keeping the inputs cached, and no page of the inputs'
// tensor files left in the page cache afterwards (where the file system has one to leave).
TEST(MergeE2E, InputCacheDropLeavesNoInputPagesCachedAndTheSameOutput) {
  TempDir tmp;
  FixtureSpec spec = small_llama(3);
  spec.dtype = DType::BF16;
  spec.dims.hidden = 256;
  spec.dims.intermediate = 704;
  spec.dims.vocab = 2048;  // embeddings of 1 MB: tensors of many pages, several blocks each
  write_fixture_family(spec, tmp / "family");
  for (const char* method : {"linear", "ties"}) {  // linear.yml merges the fine-tunes, ties.yml has a base too
    SCOPED_TRACE(method);
    std::vector<fs::path> inputs;
    for (const char* model : {"base", "ft1", "ft2", "ft3"})
      if (std::string(method) == "ties" || std::string(model) != "base")
        inputs.push_back(tmp / "family" / model / "model.safetensors");
    bool droppable = testing::page_cache_droppable(tmp.path());  // written back: dirty pages cannot be dropped
    for (const fs::path& input : inputs) droppable = testing::evict(input) && droppable;
    fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples" / (std::string(method) + ".yml"), tmp / "recipe.yml",
                  fs::copy_options::overwrite_existing);
    auto kept = run_alloy(std::string("merge recipe.yml kept-") + method + " -q --input-cache keep", tmp.path());
    ASSERT_EQ(kept.status, 0) << kept.output;
    if (droppable) {  // where read() fills the page cache; memory pressure may evict a few pages meanwhile
      for (const fs::path& input : inputs) EXPECT_GT(testing::cached_fraction(input), 0.9) << input;
    }
    auto dropped = run_alloy(std::string("merge recipe.yml dropped-") + method + " -q --input-cache drop -j 2", tmp.path());
    ASSERT_EQ(dropped.status, 0) << dropped.output;
    EXPECT_EQ(read_file(tmp / ("kept-" + std::string(method)) / "model.safetensors"),
              read_file(tmp / ("dropped-" + std::string(method)) / "model.safetensors"));
    if (droppable) {
      for (const fs::path& input : inputs) EXPECT_EQ(testing::cached_fraction(input), 0.0) << input;
    }
  }
  auto bad = run_alloy("merge recipe.yml other -q --input-cache sometimes", tmp.path());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--input-cache"), std::string::npos) << bad.output;
}

// --output-cache drop: the same bits as keeping the output cached, and none of the output shard's
// pages left in the page cache once the merge is durable; without fsync (pages never on the disk
// while the merge runs) nothing leaves.
TEST(MergeE2E, OutputCacheDropLeavesNoOutputPagesCachedAndTheSameOutput) {
  TempDir tmp;
  if (!testing::page_cache_droppable(tmp.path())) GTEST_SKIP() << tmp.path() << " keeps no droppable page cache";
  FixtureSpec spec = small_llama(3);
  spec.dtype = DType::BF16;
  spec.dims.hidden = 256;
  spec.dims.intermediate = 704;
  spec.dims.vocab = 2048;
  write_fixture_family(spec, tmp / "family");
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples" / "linear.yml", tmp / "recipe.yml");
  auto kept = run_alloy("merge recipe.yml kept -q --output-cache keep", tmp.path());
  ASSERT_EQ(kept.status, 0) << kept.output;
  const fs::path kept_shard = tmp / "kept" / "model.safetensors";
  if (testing::cached_fraction(kept_shard) != 1.0) GTEST_SKIP() << "written pages do not stay cached here";
  auto dropped = run_alloy("merge recipe.yml dropped -q --output-cache drop", tmp.path());
  ASSERT_EQ(dropped.status, 0) << dropped.output;
  const fs::path dropped_shard = tmp / "dropped" / "model.safetensors";
  EXPECT_EQ(testing::cached_fraction(dropped_shard), 0.0);
  EXPECT_EQ(read_file(kept_shard), read_file(dropped_shard));
  auto unsynced = run_alloy("merge recipe.yml unsynced -q --output-cache drop --no-fsync", tmp.path());
  ASSERT_EQ(unsynced.status, 0) << unsynced.output;
  EXPECT_EQ(testing::cached_fraction(tmp / "unsynced" / "model.safetensors"), 1.0);
  auto bad = run_alloy("merge recipe.yml other -q --output-cache never", tmp.path());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--output-cache"), std::string::npos) << bad.output;
}

// Every input shard stays open during a merge: a soft limit on open files below the number of
// shards is raised to the hard limit, not a failure.
TEST(MergeE2E, InputsOfMoreShardsThanTheSoftOpenFileLimitMerge) {
  TempDir tmp;
  FixtureSpec spec = small_llama(4);
  spec.shard_bytes = 1000;  // a shard per tensor: 39 per model
  write_fixture_family(spec, tmp / "family");
  size_t shards = 0;
  for (const auto& entry : fs::recursive_directory_iterator(tmp / "family"))
    shards += entry.path().extension() == ".safetensors";
  ASSERT_GT(shards, 100u);
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples/linear.yml", tmp / "recipe.yml");
  auto unlimited = run_alloy("merge recipe.yml unlimited -q", tmp.path());
  ASSERT_EQ(unlimited.status, 0) << unlimited.output;
  const std::string limited = "ulimit -Sn 48 && '" + std::string(ALLOY_BINARY) + "' merge recipe.yml limited -q 2>&1";
  const int status = std::system(("cd '" + tmp.path().string() + "' && " + limited + " > limited.log").c_str());
  EXPECT_EQ(status, 0) << read_file(tmp / "limited.log");
  EXPECT_EQ(read_file(tmp / "limited/model.safetensors"), read_file(tmp / "unlimited/model.safetensors"));
}

TEST(MergeE2E, ExistingDestinationIsKeptWithoutForce) {
  TempDir tmp;
  write_fixture_family(small_llama(2), tmp / "family");
  fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples/linear.yml", tmp / "recipe.yml");
  fs::create_directories(tmp / "out");
  write_file(tmp / "out/keep.txt", "precious");
  auto r = run_alloy("merge recipe.yml out -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(tmp / "out/keep.txt"), "precious");
  // A failing merge with --force leaves the old output too.
  write_file(tmp / "bad.yml", "merge_method: linear\nmodels:\n  - model: family/ft1\n");
  r = run_alloy("merge bad.yml out -q --force", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(read_file(tmp / "out/keep.txt"), "precious");
  r = run_alloy("merge recipe.yml out -q --force", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "out/keep.txt"));
  EXPECT_TRUE(fs::exists(tmp / "out/model.safetensors"));
  // A destination written with a trailing slash is the same directory.
  r = run_alloy("merge recipe.yml slash/ -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "slash/model.safetensors"));
  for (const fs::path& dir : {tmp.path(), tmp / "out", tmp / "slash"})
    for (const auto& e : fs::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(".alloy-"), std::string::npos) << e.path();
  // --force never replaces an input model, nor a directory holding one.
  const std::string ft1_config = read_file(tmp / "family/ft1/config.json");
  for (const char* input_dest : {"family/ft1", "family/ft1/", "family"}) {
    r = run_alloy(std::string("merge recipe.yml ") + input_dest + " -q --force", tmp.path());
    EXPECT_NE(r.status, 0) << input_dest;
    EXPECT_NE(r.output.find("holds the input model 'family/ft1'"), std::string::npos) << r.output;
    EXPECT_EQ(read_file(tmp / "family/ft1/config.json"), ft1_config);
  }
}

// Starts a merge big enough to be caught in the act, signals it once its temporary directory
// appears, and checks that no destination (and, for SIGINT, no temporary directory) remains; after
// SIGKILL, that the next merge removes the temporary directory left behind.
void interrupt_merge(int sig) {
  TempDir tmp;
  FixtureSpec spec = small_llama(8);
  spec.dims.hidden = 512;
  spec.dims.intermediate = 1536;
  spec.dims.vocab = 8000;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  write_fixture_family(spec, tmp / "family");
  write_file(tmp / "recipe.yml", "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n"
                                 "  - model: family/ft2\n    parameters: {weight: 1}\n");
  for (int attempt = 0; attempt < 3; ++attempt) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(tmp.path().c_str()) != 0) _exit(99);
      ::execl(ALLOY_BINARY, ALLOY_BINARY, "merge", "recipe.yml", "out", "-q", "-j", "1", static_cast<char*>(nullptr));
      _exit(98);
    }
    bool seen = false;
    for (int i = 0; i < 20000 && !seen; ++i) {
      for (const auto& e : fs::directory_iterator(tmp.path()))
        seen |= e.path().filename().string().rfind(".alloy-tmp-", 0) == 0;
      if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {  // finished before the signal: try again
      fs::remove_all(tmp / "out");
      continue;
    }
    EXPECT_FALSE(fs::exists(tmp / "out")) << "signal " << sig;
    auto temp_dirs_left = [&] {
      int n = 0;
      for (const auto& e : fs::directory_iterator(tmp.path())) n += e.path().filename().string().rfind(".alloy-tmp-", 0) == 0;
      return n;
    };
    if (sig == SIGINT) {
      EXPECT_TRUE(WIFEXITED(status)) << status;
      EXPECT_EQ(WEXITSTATUS(status), 130);
      EXPECT_EQ(temp_dirs_left(), 0);
    } else {
      // A killed merge cannot clean up; the next merge to the same destination removes what it
      // left, and says so.
      EXPECT_EQ(temp_dirs_left(), 1);
      auto r = run_alloy("merge recipe.yml out -j 1", tmp.path());
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_NE(r.output.find("left by a merge that was killed"), std::string::npos) << r.output;
      EXPECT_EQ(temp_dirs_left(), 0);
      EXPECT_TRUE(fs::exists(tmp / "out/model.safetensors"));
    }
    return;
  }
  GTEST_SKIP() << "merge always finished before the signal arrived";
}

TEST(MergeE2E, InterruptRemovesEverything) { interrupt_merge(SIGINT); }
TEST(MergeE2E, KillLeavesNoDestinationAndTheNextMergeCleansUp) { interrupt_merge(SIGKILL); }

// mergekit-yaml's command line keeps working: its boolean flags in both forms, and the options
// that mean nothing here named once on stderr. What alloy cannot do is refused.
TEST(MergeE2E, MergekitFlagsAreAcceptedOrRefusedByName) {
  TempDir tmp;
  write_fixture_family(small_llama(2), tmp / "family");
  write_file(tmp / "recipe.yml", "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n");
  auto r = run_alloy("merge recipe.yml out --no-allow-crimes --no-quiet --no-cuda --device cpu --transformers-cache c "
                     "--lora-merge-cache l --lora-merge-dtype bfloat16 --no-lazy-unpickle --safe-serialization "
                     "--no-clone-tensors --write-threads 2 -v -v --copy-tokenizer --write-model-card",
                     tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;  // the notice and the summary
  for (const char* name : {"ignoring", "--device", "--transformers-cache", "--lora-merge-cache", "--lora-merge-dtype"})
    EXPECT_NE(r.output.find(name), std::string::npos) << name << " in " << r.output;
  EXPECT_NE(r.output.find("merged "), std::string::npos) << "--no-quiet keeps the summary: " << r.output;

  auto quiet = run_alloy("merge recipe.yml out2 --quiet --device cpu", tmp.path());
  ASSERT_EQ(quiet.status, 0) << quiet.output;
  EXPECT_EQ(quiet.output, "");

  auto pickle = run_alloy("merge recipe.yml out3 -q --no-safe-serialization", tmp.path());
  EXPECT_EQ(pickle.status, 1) << pickle.output;
  EXPECT_NE(pickle.output.find("--no-safe-serialization"), std::string::npos) << pickle.output;
  auto size = run_alloy("merge recipe.yml out3 -q --out-shard-size 5XB", tmp.path());
  EXPECT_EQ(size.status, 1) << size.output;
  EXPECT_NE(size.output.find("--out-shard-size"), std::string::npos) << size.output;
  EXPECT_FALSE(fs::exists(tmp / "out3"));
}

// 5B is 5·10^9 bytes for every subcommand, as mergekit reads it: a family far smaller than that is
// one file per model, and 5KB shards are several.
TEST(MergeE2E, SizeSuffixBIsBillionsOfBytesEverywhere) {
  TempDir tmp;
  auto count_shards = [](const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".safetensors";
    return n;
  };
  auto r = run_alloy("fixture fam --layers 2 --hidden 32 --vocab 64 --fine-tunes 1 --shard-size 5B", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count_shards(tmp / "fam/base"), 1);
  write_file(tmp / "recipe.yml", "merge_method: linear\nmodels:\n  - model: fam/ft1\n    parameters: {weight: 1}\n");
  ASSERT_EQ(run_alloy("merge recipe.yml big -q --out-shard-size 5B", tmp.path()).status, 0);
  EXPECT_EQ(count_shards(tmp / "big"), 1);
  ASSERT_EQ(run_alloy("merge recipe.yml small -q --out-shard-size 5KB", tmp.path()).status, 0);
  EXPECT_GT(count_shards(tmp / "small"), 1);
}

}  // namespace
}  // namespace alloy

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// Every recipe in examples/ merges a generated family (family/base, family/ft1..ft3) from the
// CLI, and the output opens as a checkpoint with finite values and the base's tensor set.
TEST(MergeE2E, EveryExampleRecipeRuns) {
  TempDir tmp;
  FixtureSpec spec = small_llama(4);
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Sparse, TaskKind::SignConflict};
  spec.dtype = DType::BF16;
  write_fixture_family(spec, tmp / "family");
  auto base = Checkpoint::open(tmp / "family/base");
  int ran = 0;
  for (const auto& e : fs::directory_iterator(fs::path(ALLOY_SOURCE_DIR) / "examples")) {
    if (e.path().extension() != ".yml" || e.path().stem().string().starts_with("stories260K_")) continue;  // real weights: MergeE2E.Stories*
    std::string out = "out-" + e.path().stem().string();
    auto r = run_alloy("merge '" + e.path().string() + "' " + out + " -q", tmp.path());
    ASSERT_EQ(r.status, 0) << e.path() << ": " << r.output;
    auto ck = Checkpoint::open(tmp / out);
    for (const auto& name : ck->tensor_names())
      for (double v : tensor_values(*ck, name)) ASSERT_TRUE(std::isfinite(v)) << e.path() << " " << name;
    if (e.path().stem() != "frankenmerge") {
      EXPECT_EQ(ck->tensor_names().size(), base->tensor_names().size()) << e.path();
    }
    ++ran;
  }
  EXPECT_GE(ran, 20);
}

}  // namespace
}  // namespace alloy

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string weights_bytes(const fs::path& dir) { return read_file(dir / "model.safetensors"); }

// DARE masks come from a counter-based generator: the same seed gives the same bytes for any
// thread count, another seed gives other bytes.
TEST(MergeE2E, RandomMethodsAreDeterministicPerSeed) {
  TempDir tmp;
  FixtureSpec spec = small_llama(3);
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  write_fixture_family(spec, tmp / "family");
  write_file(tmp / "dare.yml", "merge_method: dare_ties\nbase_model: family/base\nmodels:\n"
                               "  - model: family/ft1\n    parameters: {weight: 0.6, density: 0.5}\n"
                               "  - model: family/ft2\n    parameters: {weight: 0.4, density: 0.5}\n");
  for (const char* run : {"a --random-seed 7 -j 1", "b --random-seed 7 -j 8", "c --random-seed 8 -j 2"}) {
    auto r = run_alloy(std::string("merge dare.yml ") + run + " -q", tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(weights_bytes(tmp / "a"), weights_bytes(tmp / "b"));
  EXPECT_NE(weights_bytes(tmp / "a"), weights_bytes(tmp / "c"));
}

}  // namespace
}  // namespace alloy
