// The libFuzzer entry point of one target, chosen at build time (ALLOY_FUZZ_TARGET, a name in
// kFuzzTargets). alloy::Error is the expected refusal; anything else escapes to the fuzzer.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_target.h"
#include "util/error.h"

namespace {

const alloy::fuzz::FuzzTarget& chosen_target() {
  for (const auto& target : alloy::fuzz::kFuzzTargets)
    if (target.name == ALLOY_FUZZ_TARGET) return target;
  std::fprintf(stderr, "no fuzz target named %s\n", ALLOY_FUZZ_TARGET);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const alloy::fuzz::FuzzTarget& target = chosen_target();
  try {
    target.run({data, size});
  } catch (const alloy::Error&) {
  }
  return 0;
}
