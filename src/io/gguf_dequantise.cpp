#include "io/gguf_dequantise.h"

#include "util/error.h"

namespace alloy {

void dequantise_rows(const GgufTensorInfo& info, const std::byte* data, uint64_t first_row, uint64_t row_count,
                     float* out) {
  const GgmlTypeTraits& t = traits(info.type);
  if (!t.dequantise)
    fail("tensor '", info.name, "' is stored as ", t.name, ", which alloy cannot dequantise (it reads F32, F16, BF16, "
         "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K): re-quantise the model to one of those");
  if (first_row > info.row_count() || row_count > info.row_count() - first_row)
    fail("tensor '", info.name, "': rows ", first_row, " to ", first_row + row_count, " are outside its ",
         info.row_count(), " rows");
  dequantise(info.type, data + first_row * info.row_bytes(), out, row_count * info.row_length());
}

std::vector<float> dequantise_tensor(const GgufTensor& tensor) {
  std::vector<float> out(tensor.info->numel);
  dequantise_rows(*tensor.info, tensor.data(), 0, tensor.info->row_count(), out.data());
  return out;
}

}  // namespace alloy
