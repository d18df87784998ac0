// What the tests share: temporary directories, running the built `alloy` binary, reading and
// writing small files, the small generated llama family of the end-to-end tests, a tensor's values
// in float64, and the float64 reference of a weighted sum with its one-output-ulp comparison. One copy here instead of one per test file.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy::testing {

// A fresh temporary directory, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "alloy-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed in " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

 private:
  std::filesystem::path path_;
};

// A whole file's bytes ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// The message of the alloy::Error that `action` throws; a test failure when it throws anything
// else or nothing (`what` names the action in that failure, as in "<path> opened").
template <class Action>
std::string error_message(Action&& action, const std::string& what) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an alloy::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << what << " without an error";
  return "";
}

struct CliResult {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr together
};

struct CliOutput {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

namespace detail {
inline int run_shell(const std::string& cmd, std::string& out) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
inline std::string in_dir(const std::filesystem::path& cwd) {
  return cwd.empty() ? "" : "cd '" + cwd.string() + "' && ";
}
}  // namespace detail

// Runs `alloy <args>` in `cwd` (the shell quotes nothing: keep arguments simple).
inline CliResult run_alloy(const std::string& args, const std::filesystem::path& cwd = {}) {
  CliResult r;
  r.status = detail::run_shell(detail::in_dir(cwd) + "'" + ALLOY_BINARY + "' " + args + " 2>&1", r.output);
  return r;
}

// Runs `alloy <args...>` with every argument single-quoted, stdout and stderr apart.
inline CliOutput run_alloy_apart(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
  TempDir scratch;
  const std::filesystem::path err_file = scratch / "stderr";
  std::string cmd = detail::in_dir(cwd) + "'" + ALLOY_BINARY + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>'" + err_file.string() + "'";
  CliOutput r;
  r.status = detail::run_shell(cmd, r.out);
  r.err = read_file(err_file);
  return r;
}

// The small generated llama family of the end-to-end tests: hidden 32, intermediate 48, vocab 64,
// 4 heads, two dense fine-tunes and one sparse, task deltas of std 0.01.
inline FixtureSpec small_llama(int layers = 4) {
  FixtureSpec spec;
  spec.family = Family::Llama;
  spec.dims.layers = layers;
  spec.dims.hidden = 32;
  spec.dims.intermediate = 48;
  spec.dims.vocab = 64;
  spec.dims.heads = 4;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense, TaskKind::Sparse};
  spec.task.delta_std = 0.01f;
  return spec;
}

// A tensor's values, widened to float64.
inline std::vector<double> tensor_values(const Checkpoint& ck, const std::string& name) {
  TensorView v = ck.tensor(name);
  std::vector<float> f(static_cast<size_t>(v.numel()));
  to_f32(v.dtype, v.data, f.data(), f.size());
  return {f.begin(), f.end()};
}

// The float64 reference of Σ_i weights[i] * inputs[i], element by element.
inline std::vector<double> weighted_sum(const std::vector<std::vector<double>>& inputs,
                                        const std::vector<double>& weights) {
  std::vector<double> out(inputs.empty() ? 0 : inputs[0].size(), 0.0);
  for (size_t m = 0; m < inputs.size(); ++m)
    for (size_t i = 0; i < out.size(); ++i) out[i] += weights[m] * inputs[m][i];
  return out;
}

// One unit in the last place of `dtype` at x (x's binade; subnormals not distinguished).
inline double ulp_of(double x, DType dtype) {
  int mant = dtype == DType::BF16 ? 7 : dtype == DType::F16 ? 10 : 23;
  int e;
  std::frexp(std::max(std::fabs(x), 1e-30), &e);
  return std::ldexp(1.0, e - 1 - mant);
}

// Expects every element of `got` within one output ulp of `want`: the float64 reference rounded
// once to the output dtype, as the engine promises.
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, DType dtype,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - want[i]), ulp_of(want[i], dtype)) << what << " element " << i;
}

}  // namespace alloy::testing
