// Error: the one exception kind alloy throws for bad input or failed I/O. Its message is a single
// line a user can act on; callers add context (file, tensor, recipe line) as it travels up.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace alloy {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable into one string: cat("shape ", 3, " != ", 4).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

// Re-throws `e` with `context` prepended: "context: original message".
[[noreturn]] inline void rethrow_with(const std::string& context, const std::exception& e) {
  throw Error(context + ": " + e.what());
}

}  // namespace alloy
