// Derivative-free search: Nelder-Mead (nelder_mead.h) over the numeric parameters the user names
// (--tune, search_space.h), each within its range, every other parameter as the recipe says.
#pragma once
#include "search/strategy.h"

namespace alloy {

SearchResult run_derivative_free(const SearchContext& context);

}  // namespace alloy
