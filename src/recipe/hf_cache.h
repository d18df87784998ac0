// Hub ids through the local Hugging Face cache: a recipe's `org/name[@revision]` that is not a
// local path names a snapshot that huggingface_hub downloaded earlier, laid out as
// <cache>/models--org--name/{refs/<branch or tag>, snapshots/<commit>/...}. alloy never downloads.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace alloy {

// The cache huggingface_hub uses: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (its older name), else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. `env` reads a
// variable (getenv; tests pass their own); unset and empty are the same.
std::filesystem::path hf_hub_cache_dir(const std::function<const char*(const char*)>& env = ::getenv);

// "org/name" or "name" spelled as the Hub allows (letters, digits, '-', '_', '.'; no "..").
bool is_hub_repo_id(std::string_view text);

// The snapshot directory of `repo` at `revision` ("" = main): a branch or tag through
// refs/<revision>, or a full commit hash with a snapshot of that name. Throws Error saying which
// directory or ref was missing, and how to fetch it (alloy itself does not download).
std::filesystem::path find_hf_snapshot(const std::filesystem::path& cache, std::string_view repo,
                                       std::string_view revision);

}  // namespace alloy
