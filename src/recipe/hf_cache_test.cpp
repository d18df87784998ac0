#include "recipe/hf_cache.h"

#include <gtest/gtest.h>

#include <map>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::error_message;
using testing::TempDir;
using testing::write_file;

TEST(HfCache, TheCacheDirectoryFollowsHuggingfaceHubsVariables) {
  auto dir_with = [](std::map<std::string, std::string> vars) {
    return hf_hub_cache_dir([&](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  const std::map<std::string, std::string> all{{"HF_HUB_CACHE", "/a"}, {"HUGGINGFACE_HUB_CACHE", "/b"},
                                               {"HF_HOME", "/c"}, {"XDG_CACHE_HOME", "/d"}, {"HOME", "/home/u"}};
  EXPECT_EQ(dir_with(all), fs::path("/a"));
  auto without = [&](std::initializer_list<const char*> names) {
    auto v = all;
    for (const char* n : names) v.erase(n);
    return dir_with(v);
  };
  EXPECT_EQ(without({"HF_HUB_CACHE"}), fs::path("/b"));
  EXPECT_EQ(without({"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}), fs::path("/c/hub"));
  EXPECT_EQ(without({"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"}), fs::path("/d/huggingface/hub"));
  EXPECT_EQ(without({"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}),
            fs::path("/home/u/.cache/huggingface/hub"));
  EXPECT_EQ(dir_with({{"HF_HUB_CACHE", ""}, {"HF_HOME", "/c"}}), fs::path("/c/hub"));  // empty = unset
}

TEST(HfCache, RepoIds) {
  for (const char* ok : {"gpt2", "org/name", "meta-llama/Llama-3.1-8B", "a_b/c.d-e"}) EXPECT_TRUE(is_hub_repo_id(ok)) << ok;
  for (const char* bad : {"", "/abs/path", "a/b/c", "./model", "org/..", "org/", "../x", "a b/c", "org/na..me"})
    EXPECT_FALSE(is_hub_repo_id(bad)) << bad;
}

// The layout huggingface_hub writes: refs/<branch> holds the commit, snapshots/<commit> the files.
TEST(HfCache, FindsSnapshotsByBranchTagAndCommit) {
  TempDir cache;
  const std::string main_commit(40, 'a'), tag_commit = "0123456789abcdef0123456789abcdef01234567";
  const fs::path repo = cache / "models--org--name";
  fs::create_directories(repo / "refs" / "pr");
  fs::create_directories(repo / "snapshots" / main_commit);
  fs::create_directories(repo / "snapshots" / tag_commit);
  write_file(repo / "refs" / "main", main_commit);  // no newline, as huggingface_hub writes it
  write_file(repo / "refs" / "v1.0", tag_commit + "\n");
  write_file(repo / "refs" / "pr" / "1", tag_commit);

  EXPECT_EQ(find_hf_snapshot(cache.path(), "org/name", ""), repo / "snapshots" / main_commit);
  EXPECT_EQ(find_hf_snapshot(cache.path(), "org/name", "main"), repo / "snapshots" / main_commit);
  EXPECT_EQ(find_hf_snapshot(cache.path(), "org/name", "v1.0"), repo / "snapshots" / tag_commit);
  EXPECT_EQ(find_hf_snapshot(cache.path(), "org/name", "pr/1"), repo / "snapshots" / tag_commit);
  EXPECT_EQ(find_hf_snapshot(cache.path(), "org/name", tag_commit), repo / "snapshots" / tag_commit);

  fs::create_directories(cache / "models--gpt2" / "snapshots" / main_commit);
  fs::create_directories(cache / "models--gpt2" / "refs");
  write_file(cache / "models--gpt2" / "refs" / "main", main_commit);
  EXPECT_EQ(find_hf_snapshot(cache.path(), "gpt2", ""), cache / "models--gpt2" / "snapshots" / main_commit);
}

TEST(HfCache, SaysWhereItLookedWhenAbsent) {
  TempDir cache;
  std::string m = error_message([&] { find_hf_snapshot(cache.path(), "org/other", ""); }, "found");
  EXPECT_NE(m.find("no " + (cache / "models--org--other").string()), std::string::npos) << m;
  EXPECT_NE(m.find("alloy does not download: fetch it first, e.g. `hf download org/other`"), std::string::npos) << m;

  const fs::path repo = cache / "models--org--name";
  fs::create_directories(repo / "refs");
  m = error_message([&] { find_hf_snapshot(cache.path(), "org/name", "dev"); }, "found");
  EXPECT_NE(m.find("revision 'dev' of org/name is not in the Hugging Face cache: no " + (repo / "refs" / "dev").string()),
            std::string::npos) << m;
  EXPECT_NE(m.find("--revision dev"), std::string::npos) << m;

  write_file(repo / "refs" / "main", std::string(40, 'b'));  // a ref whose snapshot was deleted
  m = error_message([&] { find_hf_snapshot(cache.path(), "org/name", ""); }, "found");
  EXPECT_NE(m.find("has no snapshot " + (repo / "snapshots" / std::string(40, 'b')).string()), std::string::npos) << m;

  write_file(repo / "refs" / "bad", "not a hash");
  m = error_message([&] { find_hf_snapshot(cache.path(), "org/name", "bad"); }, "found");
  EXPECT_NE(m.find("holds 'not a hash', not a commit hash"), std::string::npos) << m;
}

}  // namespace
}  // namespace alloy
