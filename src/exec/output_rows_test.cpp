// Output rows: llama.cpp's rotary row order against convert_hf_to_gguf.py's permute written as a
// formula (reshape(heads, 2, d/2).swapaxes(1, 2): stored row 2i + k of a head is row k·d/2 + i),
// row sizes of plain and block types, and blocks of whole heads.
#include "exec/output_rows.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(OutputRows, RotaryOrderIsTheConvertersPermutation) {
  for (int64_t group : {2, 8, 64}) {
    const int64_t rows = 3 * group;
    const uint64_t row_bytes = 5;
    std::vector<unsigned char> bytes(static_cast<size_t>(rows) * row_bytes);
    for (int64_t r = 0; r < rows; ++r)
      for (uint64_t b = 0; b < row_bytes; ++b) bytes[r * row_bytes + b] = static_cast<unsigned char>(r * 3 + b);
    std::vector<unsigned char> scratch;
    to_rotary_order(bytes.data(), rows, row_bytes, group, scratch);
    for (int64_t stored = 0; stored < rows; ++stored) {
      const int64_t head = stored / group, r = stored % group;
      const int64_t from = head * group + (r % 2) * (group / 2) + r / 2;
      for (uint64_t b = 0; b < row_bytes; ++b)
        ASSERT_EQ(bytes[stored * row_bytes + b], static_cast<unsigned char>(from * 3 + b)) << group << " " << stored;
    }
  }
}

TEST(OutputRows, RowBytesAndBlocksOfWholeHeads) {
  TensorPlacement plain;
  EXPECT_EQ(RowEncoding(DType::BF16, plain, 7).row_bytes(), 14u);
  TensorPlacement q8;
  q8.ggml_type = GgmlType::Q8_0;
  q8.rotary_group_rows = 8;
  const RowEncoding e(DType::F32, q8, 64);
  EXPECT_EQ(e.row_bytes(), 68u);  // two 34-byte blocks
  EXPECT_EQ(e.rows_per_block(1), 8);
  EXPECT_EQ(e.rows_per_block(17), 24);
  EXPECT_EQ(RowEncoding(DType::F32, plain, 64).rows_per_block(17), 17);
}

TEST(OutputRows, EncodesThroughTheGgmlTypeOrTheDtype) {
  const std::vector<float> values = {1.0f, -2.0f, 0.5f, 3.0f};
  TensorPlacement f16;
  f16.ggml_type = GgmlType::F16;
  std::vector<unsigned char> out(8);
  RowEncoding(DType::F32, f16, 2).encode(values.data(), 2, out.data());
  EXPECT_EQ(out[0] | (out[1] << 8), 0x3C00);  // 1.0 in IEEE half
  EXPECT_EQ(out[2] | (out[3] << 8), 0xC000);  // -2.0
  TensorPlacement plain;
  RowEncoding(DType::BF16, plain, 4).encode(values.data(), 1, out.data());
  EXPECT_EQ(out[6] | (out[7] << 8), 0x4040);  // 3.0 in bfloat16
}

TEST(OutputRows, RefusesRowsThatAreNotWholeGroups) {
  std::vector<unsigned char> bytes(12), scratch;
  EXPECT_NE(testing::error_message([&] { to_rotary_order(bytes.data(), 3, 4, 2, scratch); }, "3 rows in groups of 2")
                .find("not whole groups"),
            std::string::npos);
}

}  // namespace
}  // namespace alloy
