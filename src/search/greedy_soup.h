// Greedy soup (Wortsman et al., 2022): the candidates ranked by their own probe objective; the
// soup starts from the best and adds each next one, as an equal-weight member, only when the
// soup's probe objective improves. The tuned recipe merges the kept models with the recipe's
// method (their weights equal); order and losses go to the report.
#pragma once
#include "search/strategy.h"

namespace alloy {

SearchResult run_greedy_soup(const SearchContext& context);

}  // namespace alloy
