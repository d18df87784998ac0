#include "analyze/merge_advice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace alloy {
namespace {

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

MergeAdvice merge_advice(const GeometrySums& s) {
  MergeAdvice a;
  a.conflict = conflict_share(s);
  double sum = 0;
  int n = 0;
  for (const auto& c : cosines(s))
    if (c) sum += *c, ++n;
  if (n == 0) {
    a.method = "none";
    a.text = "fewer than two models differ from the base: there are no task vectors to compare";
    return a;
  }
  a.mean_cosine = sum / n;
  const double c = *a.mean_cosine;
  const std::string numbers = "mean cosine " + fixed(c, 3) +
                              (a.conflict ? ", sign conflict " + fixed(100 * *a.conflict, 1) + "%" : "");
  if (c >= kAlignedCosine) {
    a.method = "linear";
    a.text = numbers + ": the task vectors are aligned; averaging (linear, or task_arithmetic) keeps what they share";
  } else if (c < kUnrelatedCosine && a.conflict && *a.conflict >= kConflictingShare) {
    a.method = "ties";
    a.density = std::clamp(std::round(10 * (1 - *a.conflict)) / 10, 0.1, 0.9);
    a.text = numbers + ": the task vectors are unrelated and their signs conflict; ties or dare_ties "
             "resolve the conflicts (try density " + fixed(*a.density, 1) + ")";
  } else {
    a.method = "task_arithmetic";
    a.text = numbers + ": the task vectors are weakly related with few sign conflicts; task_arithmetic "
             "(or linear) adds them with little interference";
  }
  return a;
}

}  // namespace alloy
