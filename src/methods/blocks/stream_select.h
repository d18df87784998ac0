// StreamSelect: exact order statistics (the element of a given rank) of a sequence of 64-bit keys
// too large to keep in memory, found by reading the sequence again: each pass histograms the next
// 16 bits of the keys that still match the prefix chosen so far, until few enough candidates are
// left to pick in memory. Memory stays one histogram and one candidate buffer per target.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "util/error.h"

namespace alloy {

// A key that orders like the double it encodes: -inf < ... < -0 < +0 < ... < +inf.
inline uint64_t ordered_key(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  return (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
}

inline double key_value(uint64_t key) {
  return std::bit_cast<double>((key >> 63) ? key & ~(uint64_t{1} << 63) : ~key);
}

// Methods that threshold a whole tensor on a derived value (sce's top-k over the variance across
// models, arcee_fusion's quantiles of importance) recompute the keys on every pass.
//
// Order: ascending key, equal keys by DEScending element index. So with n elements, rank n - k
// is the k-th largest when ties go to the lower index (top-k), and an element is among the top k
// exactly when (key, index) >= the pick of rank n - k in this order (see `at_or_above`).
class StreamSelect {
 public:
  struct Pick {
    uint64_t key = 0;
    int64_t index = -1;
  };

  // `targets` order statistics of `n` > 0 elements; set every target's rank before the first
  // end_pass() (the first pass does not depend on it, so a rank may come from that pass).
  StreamSelect(int64_t n, size_t targets, int64_t collect_limit = int64_t{1} << 20)
      : n_(n), limit_(std::max<int64_t>(collect_limit, 1)), targets_(targets) {
    if (n <= 0) fail("StreamSelect: nothing to select from");
    for (auto& t : targets_) t.candidates = n;
    regroup();
  }

  void set_rank(size_t target, int64_t rank) {
    if (rank < 0 || rank >= n_) fail("StreamSelect: rank ", rank, " outside [0, ", n_, ")");
    targets_[target].rank = rank;
  }

  bool done() const { return groups_.empty(); }

  // Feed every element once per pass, in ascending index order.
  void visit(uint64_t key, int64_t index) {
    for (Group& g : groups_) {
      if (g.bits != 0 && (key >> (64 - g.bits)) != g.prefix) continue;
      switch (g.mode) {
        case Mode::Collect:
          g.picks.push_back({key, index});
          break;
        case Mode::Histogram:
          ++g.hist[(key >> (48 - g.bits)) & 0xFFFF];
          break;
        case Mode::Scan:
          // All candidates share one key; a target wants the one at a given position by index.
          for (size_t j : g.members)
            if (targets_[j].scan_position == g.seen) targets_[j].result = {key, index};
          ++g.seen;
          break;
      }
    }
  }

  void end_pass() {
    for (Group& g : groups_) {
      for (size_t j : g.members) {
        Target& t = targets_[j];
        if (t.rank < 0) fail("StreamSelect: rank of target ", j, " never set");
        switch (g.mode) {
          case Mode::Collect: {
            auto nth = g.picks.begin() + t.rank;
            std::nth_element(g.picks.begin(), nth, g.picks.end(), before);
            t.result = *nth;
            t.done = true;
            break;
          }
          case Mode::Histogram: {
            int64_t below = 0;
            for (uint64_t bin = 0; bin < g.hist.size(); ++bin) {
              if (below + g.hist[bin] > t.rank) {
                t.prefix = (t.prefix << 16) | bin;
                t.bits += 16;
                t.rank -= below;
                t.candidates = g.hist[bin];
                break;
              }
              below += g.hist[bin];
            }
            break;
          }
          case Mode::Scan:
            t.done = true;
            break;
        }
      }
    }
    regroup();
  }

  Pick pick(size_t target) const { return targets_[target].result; }

  // Whether element (key, index) is at or above `p` in the order above.
  static bool at_or_above(uint64_t key, int64_t index, const Pick& p) {
    return key > p.key || (key == p.key && index <= p.index);
  }

 private:
  enum class Mode { Histogram, Collect, Scan };

  struct Target {
    int64_t rank = -1;  // among the candidates
    uint64_t prefix = 0;
    int bits = 0;  // leading key bits fixed so far
    int64_t candidates = 0;
    int64_t scan_position = -1;
    bool done = false;
    Pick result;
  };

  struct Group {
    Mode mode = Mode::Histogram;
    uint64_t prefix = 0;
    int bits = 0;
    std::vector<size_t> members;
    std::vector<int64_t> hist;
    std::vector<Pick> picks;
    int64_t seen = 0;
  };

  static bool before(const Pick& a, const Pick& b) {
    return a.key < b.key || (a.key == b.key && a.index > b.index);
  }

  // Targets in the same state share one pass's work (all of them do on the first pass).
  void regroup() {
    groups_.clear();
    for (size_t j = 0; j < targets_.size(); ++j) {
      Target& t = targets_[j];
      if (t.done) continue;
      Mode mode = t.candidates <= limit_ ? Mode::Collect : t.bits == 64 ? Mode::Scan : Mode::Histogram;
      // Equal keys, listed in ascending index order: rank r (descending index) is position c-1-r.
      if (mode == Mode::Scan) t.scan_position = t.candidates - 1 - t.rank;
      auto same = [&](const Group& g) { return g.mode == mode && g.bits == t.bits && g.prefix == t.prefix; };
      auto it = std::find_if(groups_.begin(), groups_.end(), same);
      if (it == groups_.end()) {
        Group g;
        g.mode = mode;
        g.prefix = t.prefix;
        g.bits = t.bits;
        if (mode == Mode::Histogram) g.hist.assign(size_t{1} << 16, 0);
        if (mode == Mode::Collect) g.picks.reserve(static_cast<size_t>(t.candidates));
        groups_.push_back(std::move(g));
        it = groups_.end() - 1;
      }
      it->members.push_back(j);
    }
  }

  int64_t n_;
  int64_t limit_;
  std::vector<Target> targets_;
  std::vector<Group> groups_;
};

}  // namespace alloy
