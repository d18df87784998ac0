#include "stats/probe_kind.h"

#include "model/encoder_config.h"
#include "util/error.h"

namespace alloy {

bool is_pair_probe(const std::filesystem::path& probe) { return probe.extension() == ".jsonl"; }

void check_probe_fits_model(const nlohmann::json& config, const std::filesystem::path& probe) {
  const bool encoder = is_encoder_config(config);
  if (encoder == is_pair_probe(probe)) return;
  const std::string type = config.is_object() ? config.value("model_type", nlohmann::json("unknown")).dump() : "unknown";
  if (encoder)
    fail("probe ", probe.string(), " is plain text, which fits decoder language models (next-token loss); this model "
         "is an embedding encoder (model_type ", type, "): give a .jsonl of {\"query\", \"positive\"} pairs");
  fail("probe ", probe.string(), ": query/positive pairs (.jsonl) fit embedding encoders (model_type bert, roberta, "
       "xlm-roberta; InfoNCE loss); this model is a decoder language model (model_type ", type,
       "): give a plain text file");
}

}  // namespace alloy
