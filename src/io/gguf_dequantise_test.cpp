// dequantise_rows / dequantise_tensor on whole GGUF files: rows of a Q8_0 tensor written by hand
// (d per row, quants by formula) come back as d·q in row-major order; out-of-range rows and types
// alloy cannot decode are refused with the tensor's name.
#include "io/gguf_dequantise.h"

#include <gtest/gtest.h>

#include "../../tests/gguf_bytes.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace alloy::testing;

constexpr int kRows = 3, kRowLength = 64;
constexpr uint16_t kRowScaleBits[kRows] = {0x3400, 0x3800, 0xBA00};  // 0.25, 0.5, -0.75 as f16
constexpr double kRowScale[kRows] = {0.25, 0.5, -0.75};

int quant(int row, int col) { return (row * 67 + col * 13) % 255 - 127; }

// A Q8_0 tensor of ne [64, 3]: each row is two blocks {f16 d; i8 q[32]} with the row's d.
std::string q8_0_rows() {
  std::string data;
  for (int r = 0; r < kRows; ++r)
    for (int block = 0; block < kRowLength / 32; ++block) {
      data += u16_bytes(kRowScaleBits[r]);
      for (int j = 0; j < 32; ++j) data += static_cast<char>(static_cast<int8_t>(quant(r, 32 * block + j)));
    }
  return data;
}

class GgufDequantise : public ::testing::Test {
 protected:
  void SetUp() override {
    GgufBuilder b;
    b.tensor("blk.0.attn_v.weight", {kRowLength, kRows}, 8, q8_0_rows());
    b.tensor("blk.0.ffn_down.weight", {32, 2}, 20, std::string(36, '\x11'));  // IQ4_NL
    write_file(dir_ / "m.gguf", b.build());
    model_ = GgufModel::open(dir_ / "m.gguf");
  }
  TempDir dir_;
  GgufModel model_;
};

TEST_F(GgufDequantise, WholeTensorAndRowRanges) {
  const GgufTensor& t = *model_.find_tensor("blk.0.attn_v.weight");
  EXPECT_EQ(t.info->shape, (Shape{kRows, kRowLength}));
  std::vector<float> all = dequantise_tensor(t);
  ASSERT_EQ(all.size(), size_t{kRows * kRowLength});
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < kRowLength; ++c)
      EXPECT_EQ(all[r * kRowLength + c], static_cast<float>(kRowScale[r] * quant(r, c))) << r << "," << c;

  std::vector<float> tail(2 * kRowLength, -1.0f);
  dequantise_rows(*t.info, t.data(), 1, 2, tail.data());
  for (int r = 1; r < kRows; ++r)
    for (int c = 0; c < kRowLength; ++c)
      EXPECT_EQ(tail[(r - 1) * kRowLength + c], static_cast<float>(kRowScale[r] * quant(r, c)));
  std::vector<float> none(1, -1.0f);
  dequantise_rows(*t.info, t.data(), 3, 0, none.data());
  EXPECT_EQ(none[0], -1.0f);
}

TEST_F(GgufDequantise, RowsOutsideTheTensorAreRefused) {
  const GgufTensor& t = *model_.find_tensor("blk.0.attn_v.weight");
  std::vector<float> out(4 * kRowLength);
  try {
    dequantise_rows(*t.info, t.data(), 2, 2, out.data());
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "tensor 'blk.0.attn_v.weight': rows 2 to 4 are outside its 3 rows");
  }
}

TEST_F(GgufDequantise, TypesWithoutADequantiserNameTheTensorAndType) {
  try {
    dequantise_tensor(*model_.find_tensor("blk.0.ffn_down.weight"));
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blk.0.ffn_down.weight' is stored as IQ4_NL, which alloy cannot "
                                         "dequantise"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace alloy
