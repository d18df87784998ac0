// The loop both gradient searches share: Adam on a parameter vector, one objective-and-gradient
// evaluation per step over the probe sets (all chunks, or a seeded mini-batch of each set), a
// projection back into the feasible region after each step, and the losses it went through.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "search/adam.h"
#include "search/probe_gradient.h"

namespace alloy {

struct GradientSearchSettings {
  int steps = 40;
  AdamSettings adam;
  // Chunks of each probe set per step; 0: all of them (full-batch, the default). With a mini-batch
  // each step draws its chunks in an order fixed by `seed`.
  int64_t chunks_per_step = 0;
  uint64_t seed = 0;
  std::function<void(int step, double loss)> progress;  // may be empty
};

// f(params, sets, grad) returns the objective at params on `sets` and writes its gradient.
using ObjectiveFunction =
    std::function<double(const std::vector<double>& params, const std::vector<ProbeSet>& sets, std::vector<double>& grad)>;

struct SearchTrace {
  std::vector<double> params;   // full-batch: the best point visited; mini-batch: the last one
  double loss = 0;              // the objective there on every chunk
  std::vector<double> losses;   // the objective of each step, on that step's chunks
};

SearchTrace adam_search(std::vector<double> params, const ObjectiveFunction& f,
                        const std::function<void(std::vector<double>&)>& project, const std::vector<ProbeSet>& sets,
                        const GradientSearchSettings& settings);

}  // namespace alloy
