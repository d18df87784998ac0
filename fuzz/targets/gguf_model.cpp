// Target of GGUF model inputs: the input written to a scratch file named as the one part of a
// split set (so the split.* keys are checked too) and opened as a merge opens it, with llama.cpp's
// names and metadata and under Hugging Face names (config rebuilt from the metadata, q/k rows
// un-permuted), every tensor read as f32 rows; then the metadata of a GGUF output with the
// input as donor (its tokenizer keys copied as they are), encoded as a header and read back.
#include <stdexcept>
#include <string>

#include "fuzz_target.h"
#include "io/gguf_checkpoint.h"
#include "io/gguf_metadata.h"
#include "io/gguf_writer.h"
#include "read_every_tensor.h"
#include "scratch_file.h"
#include "util/error.h"

namespace alloy::fuzz {
namespace {

// The header alloy would write for a merge with this donor must be one alloy reads back.
void write_donor_header(const std::filesystem::path& path) {
  const GgufModel donor = GgufModel::open(path);
  const GgufGeneral general{"fuzz", 1000, gguf_file_type(GgmlType::Q8_0), {"org/a", "b"}};
  const std::string header =
      gguf_header_bytes(gguf_donor_metadata(donor.metadata(), general, 1), {}, kGgufDefaultAlignment);
  try {
    parse_gguf_header(reinterpret_cast<const std::byte*>(header.data()), header.size());
  } catch (const Error& e) {
    throw std::logic_error(std::string("alloy cannot read the GGUF header it wrote: ") + e.what());
  }
}

}  // namespace

Outcome fuzz_gguf_model(std::span<const uint8_t> input) {
  const std::filesystem::path path = write_scratch("model-00001-of-00001.gguf", input);
  CheckpointOptions llama_cpp_names;
  llama_cpp_names.gguf_llama_cpp_names = true;
  read_every_tensor(*open_gguf_checkpoint(path, llama_cpp_names));
  read_every_tensor(*open_gguf_checkpoint(path, CheckpointOptions{}));
  write_donor_header(path);
  return Outcome::accepted;
}

}  // namespace alloy::fuzz
