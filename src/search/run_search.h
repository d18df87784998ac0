// run_search: the whole `alloy search`: prepare (search_setup.h), run the strategy, then merge the
// tuned recipe with the ordinary merge and put it in place with OUT/search_report.json, all in a
// temporary directory beside OUT renamed into place at the end: a failed or interrupted search
// leaves OUT as it was.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "search/strategy.h"

namespace alloy {

struct SearchOptions {
  std::filesystem::path recipe;
  std::filesystem::path out;
  std::string strategy;
  SearchSettings settings;
  bool force = false;  // replace an existing OUT
  bool fsync = true;
  std::filesystem::path stats_dir;  // statistics cache of data-aware methods; empty: OUT.alloy-stats
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

struct SearchSummary {
  SearchResult result;
  double search_seconds = 0;  // preparing and searching
  double merge_seconds = 0;   // the final merge
};

SearchSummary run_search(const SearchOptions& options, const std::atomic<bool>* cancel = nullptr);

// The report's JSON (OUT/search_report.json).
nlohmann::json search_report(const SearchOptions& options, const SearchContext& context, const SearchResult& result,
                             double search_seconds);

}  // namespace alloy
