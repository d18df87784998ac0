#include "recipe/hf_cache.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

fs::path hf_hub_cache_dir(const std::function<const char*(const char*)>& env) {
  auto var = [&](const char* name) -> std::string {
    const char* v = env(name);
    return v ? v : "";
  };
  if (std::string v = var("HF_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = var("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = var("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (std::string v = var("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  return fs::path(var("HOME")) / ".cache" / "huggingface" / "hub";
}

bool is_hub_repo_id(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos && text.find('/', slash + 1) != std::string_view::npos) return false;
  auto part_ok = [](std::string_view p) {
    if (p.empty() || p.size() > 96 || p == "." || p.find("..") != std::string_view::npos) return false;
    return std::all_of(p.begin(), p.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
  };
  return slash == std::string_view::npos ? part_ok(text) : part_ok(text.substr(0, slash)) && part_ok(text.substr(slash + 1));
}

namespace {

bool is_commit_hash(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

}  // namespace

fs::path find_hf_snapshot(const fs::path& cache, std::string_view repo, std::string_view revision) {
  std::string folder = "models--";  // "org/name" -> "models--org--name"
  for (char c : repo) folder += c == '/' ? std::string("--") : std::string(1, c);
  const fs::path dir = cache / folder;
  const std::string rev = revision.empty() ? "main" : std::string(revision);
  const std::string fetch = cat(" (alloy does not download: fetch it first, e.g. `hf download ", repo,
                                revision.empty() ? "" : " --revision ", revision, "`)");
  if (!path_exists(dir)) fail("not in the Hugging Face cache: no ", dir.string(), fetch);

  std::string commit;
  const fs::path ref = dir / "refs" / rev;
  if (rev.find("..") == std::string::npos && path_exists(ref)) {
    commit = read_whole_file(ref, "the Hugging Face cache ref", 1024);
    while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
    if (!is_commit_hash(commit)) fail(ref.string(), ": holds '", commit, "', not a commit hash");
  } else if (is_commit_hash(rev)) {
    commit = rev;
  } else {
    fail("revision '", rev, "' of ", repo, " is not in the Hugging Face cache: no ", ref.string(), fetch);
  }
  const fs::path snapshot = dir / "snapshots" / commit;
  if (!path_exists(snapshot)) fail("revision '", rev, "' of ", repo, " has no snapshot ", snapshot.string(), fetch);
  return snapshot;
}

}  // namespace alloy
