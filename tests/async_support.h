// Helpers for tests of code that works on its own threads (the write queue, background flushes).
#pragma once
#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include "util/error.h"

namespace alloy::testing {

// Waits (up to 10 s, polling every millisecond) until pred() holds; false when it never did.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 10000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

// The message of a reported failure (an alloy::Error), for asserting on its context.
inline std::string error_message(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return err.what();
  } catch (...) {
    return "not an alloy::Error";
  }
}

}  // namespace alloy::testing
