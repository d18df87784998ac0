#include "vocab/permuted_embeddings.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

struct Matrix {
  std::vector<std::byte> bytes;
  TensorView view;
};

Matrix matrix(const std::vector<std::vector<float>>& rows, DType dtype = DType::F32) {
  Matrix m;
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  m.bytes.resize(flat.size() * dtype_size(dtype));
  from_f32(flat.data(), dtype, m.bytes.data(), flat.size());
  m.view.dtype = dtype;
  m.view.shape = {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows.front().size())};
  m.view.data = m.bytes.data();
  m.view.nbytes = m.bytes.size();
  return m;
}

std::vector<std::vector<float>> rows_of(const PermutedRows& p) {
  std::vector<float> flat(static_cast<size_t>(p.view.numel()));
  to_f32(p.view.dtype, p.view.data, flat.data(), flat.size());
  std::vector<std::vector<float>> out;
  for (int64_t r = 0; r < p.view.shape[0]; ++r)
    out.emplace_back(flat.begin() + r * p.view.shape[1], flat.begin() + (r + 1) * p.view.shape[1]);
  return out;
}

DefaultRow from(size_t model, int64_t row, bool force = false) {
  return DefaultRow{DefaultRow::Kind::Model, model, row, force};
}

// Three tokens padded to four rows. Model 0 has tokens 0 and 1 (rows 0, 1), model 1 has tokens
// 0 and 2 (rows 1, 0) and model 2 tokens 1 and 2 (rows 0, 1); token 0 is model 0's where
// missing, token 1 the mean of the models that have it, token 2 model 1's row 0.
TEST(PermutedEmbeddings, RowsByTokenDefaultsAndPadding) {
  OutputVocabulary v;
  v.tokens = {"t0", "t1", "t2"};
  v.padded_size = 4;
  v.old_ids = {{0, 1, -1}, {1, -1, 0}, {-1, 0, 1}};
  v.defaults = {from(0, 0), DefaultRow{DefaultRow::Kind::Average}, from(1, 0)};
  const Matrix m0 = matrix({{1, 2}, {3, 4}}), m1 = matrix({{10, 20}, {30, 40}}), m2 = matrix({{5, 7}, {9, 11}});
  const auto out = permute_embeddings(v, {m0.view, m1.view, m2.view}, {"m0", "m1", "m2"}, "embed");
  ASSERT_EQ(out.size(), 3u);
  // token 1's default: (3 + 5) / 2, (4 + 7) / 2 = 4, 5.5
  EXPECT_EQ(rows_of(*out[0]), (std::vector<std::vector<float>>{{1, 2}, {3, 4}, {10, 20}, {14 / 3.0f, 26 / 3.0f}}));
  EXPECT_EQ(rows_of(*out[1]), (std::vector<std::vector<float>>{{30, 40}, {4, 5.5}, {10, 20}, {44 / 3.0f, 65.5f / 3.0f}}));
  EXPECT_EQ(rows_of(*out[2]), (std::vector<std::vector<float>>{{1, 2}, {5, 7}, {9, 11}, {5, 20 / 3.0f}}));
  EXPECT_FALSE(out[0]->view.file_mapped);
}

// A forced token takes the source's row in every model, the source included; a zero token is
// zero; the dtype is the input's; an absent input gives no matrix.
TEST(PermutedEmbeddings, ForcedZeroDtypeAndAbsentInputs) {
  OutputVocabulary v;
  v.tokens = {"a", "b", "z"};
  v.padded_size = 3;
  v.old_ids = {{0, 1, -1}, {1, 0, -1}, {0, 1, -1}};
  v.defaults = {from(1, 0, true), from(0, 1), DefaultRow{DefaultRow::Kind::Zero}};
  const Matrix m0 = matrix({{1, 2}, {3, 4}}, DType::BF16), m1 = matrix({{0.5, -1}, {8, 16}}, DType::BF16);
  const auto out = permute_embeddings(v, {m0.view, m1.view, std::nullopt}, {"m0", "m1", "m2"}, "lm_head");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2], nullptr);
  EXPECT_EQ(out[0]->view.dtype, DType::BF16);
  EXPECT_EQ(rows_of(*out[0]), (std::vector<std::vector<float>>{{0.5, -1}, {3, 4}, {0, 0}}));
  EXPECT_EQ(rows_of(*out[1]), (std::vector<std::vector<float>>{{0.5, -1}, {0.5, -1}, {0, 0}}));
}

TEST(PermutedEmbeddings, RefusesMismatchedMatrices) {
  OutputVocabulary v;
  v.tokens = {"a", "b"};
  v.padded_size = 2;
  v.old_ids = {{0, 1}, {0, 2}};
  v.defaults = {from(0, 0), from(0, 1)};
  const Matrix m0 = matrix({{1, 2}, {3, 4}}), wide = matrix({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}), short_ = matrix({{1, 2}, {3, 4}});
  try {
    permute_embeddings(v, {m0.view, wide.view}, {"m0", "wide"}, "embed");
    FAIL() << "widths 2 and 3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'embed': rows of 3 elements in model 'wide' but 2"), std::string::npos)
        << e.what();
  }
  try {
    permute_embeddings(v, {m0.view, short_.view}, {"m0", "short"}, "embed");
    FAIL() << "row 2 of a 2-row matrix accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'embed' in model 'short': has 2 rows, but token 'b' needs row 2"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
