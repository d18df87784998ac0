#include "search/gradient_search.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "util/error.h"

namespace alloy {

namespace {

// Each set's chunks in one seeded order, dealt `per_step` at a time and reshuffled once used up.
class ChunkDealer {
 public:
  ChunkDealer(const std::vector<ProbeSet>& sets, int64_t per_step, uint64_t seed)
      : sets_(sets), per_step_(per_step), rng_(seed), order_(sets.size()), next_(sets.size(), 0) {
    for (size_t s = 0; s < sets.size(); ++s) {
      order_[s].resize(sets[s].chunks.size());
      std::iota(order_[s].begin(), order_[s].end(), size_t{0});
      std::shuffle(order_[s].begin(), order_[s].end(), rng_);
    }
  }
  std::vector<ProbeSet> deal() {
    std::vector<ProbeSet> out(sets_.size());
    for (size_t s = 0; s < sets_.size(); ++s) {
      out[s].written = sets_[s].written;
      out[s].path = sets_[s].path;
      const int64_t n = std::min<int64_t>(per_step_, static_cast<int64_t>(order_[s].size()));
      for (int64_t k = 0; k < n; ++k) {
        if (next_[s] == order_[s].size()) {
          std::shuffle(order_[s].begin(), order_[s].end(), rng_);
          next_[s] = 0;
        }
        out[s].chunks.push_back(sets_[s].chunks[order_[s][next_[s]++]]);
      }
    }
    return out;
  }

 private:
  const std::vector<ProbeSet>& sets_;
  int64_t per_step_;
  std::mt19937_64 rng_;
  std::vector<std::vector<size_t>> order_;
  std::vector<size_t> next_;
};

}  // namespace

SearchTrace adam_search(std::vector<double> params, const ObjectiveFunction& f,
                        const std::function<void(std::vector<double>&)>& project, const std::vector<ProbeSet>& sets,
                        const GradientSearchSettings& settings) {
  if (settings.steps < 1) fail("a gradient search needs at least 1 step (steps: ", settings.steps, ")");
  if (settings.chunks_per_step < 0) fail("chunks_per_step must be 0 (all) or positive, not ", settings.chunks_per_step);
  const bool full_batch = settings.chunks_per_step == 0;
  ChunkDealer dealer(sets, full_batch ? 1 : settings.chunks_per_step, settings.seed);
  Adam adam(params.size(), settings.adam);
  SearchTrace trace;
  std::vector<double> grad(params.size());
  std::vector<double> best;
  double best_loss = 0;
  project(params);
  for (int step = 0; step < settings.steps; ++step) {
    const double loss = full_batch ? f(params, sets, grad) : f(params, dealer.deal(), grad);
    trace.losses.push_back(loss);
    if (settings.progress) settings.progress(step, loss);
    if (full_batch && (best.empty() || loss < best_loss)) best = params, best_loss = loss;
    adam.step(params, grad);
    project(params);
  }
  std::vector<double> unused(params.size());
  const double last = f(params, sets, unused);
  if (full_batch && best_loss < last) {
    trace.params = best;
    trace.loss = best_loss;
  } else {
    trace.params = params;
    trace.loss = last;
  }
  return trace;
}

}  // namespace alloy
