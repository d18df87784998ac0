#include "exec/gguf_output.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "io/gguf_metadata.h"
#include "io/gguf_model.h"
#include "io/gguf_names.h"
#include "io/gguf_vocab.h"
#include "io/gguf_writer.h"
#include "tensor/adapted_views.h"
#include "tensor/ggml_type_rules.h"
#include "util/error.h"

namespace alloy {

namespace {

bool is_gguf(const LoadedModel& m) { return m.checkpoint->format() == "gguf"; }

// The ggml type a merge dtype is stored in when no --out-type is given.
GgmlType ggml_type_of(DType dtype, const std::string& tensor) {
  switch (dtype) {
    case DType::F32: return GgmlType::F32;
    case DType::F16: return GgmlType::F16;
    case DType::BF16: return GgmlType::BF16;
    default:
      fail("tensor '", tensor, "': ", dtype_name(dtype), " has no GGUF type alloy writes; give --out-type (f32, f16, "
           "bf16 or a quantised type)");
  }
}

// The block count of llama.cpp names: one more than the largest N of "blk.N.".
uint32_t block_count(const std::vector<GgufOutputTensor>& tensors) {
  uint32_t n = 0;
  for (const auto& t : tensors) {
    if (!t.name.starts_with("blk.")) continue;
    uint32_t layer = 0;
    const char* digits = t.name.data() + 4;
    const auto [end, ec] = std::from_chars(digits, t.name.data() + t.name.size(), layer);
    if (ec == std::errc() && end != digits && *end == '.') n = std::max(n, layer + 1);
  }
  return n;
}

// Whether the job writes its single input's values unchanged: a byte copy, a passthrough without a
// scale (or at scale 1), or a linear merge of one model (at weight 1, or any weight normalised).
bool writes_input_unchanged(const TensorJob& job) {
  if (!job.method) return true;
  const MergeCall& call = job.call;
  if (call.size() != 1 || call.inputs[0].view.shape != job.out.shape) return false;
  if (job.method->name == "passthrough") return call.model_param_opt(0, "scale").value_or(1.0) == 1.0;
  if (job.method->name == "linear") return call.flag("normalize") || call.model_param(0, "weight") == 1.0;
  return false;
}

// Whether a byte copy of `view` already is the bytes of a GGUF tensor of `type` whose rows are
// written in llama.cpp's rotary order within `rotary_heads` heads (0: in order). A view read
// under Hugging Face names from a GGUF is un-permuted by the same heads, so the two cancel and
// its stored rows are the output's.
bool copy_is_exact(const TensorView& view, GgmlType type, int64_t rotary_heads) {
  if (view.rotary_heads != rotary_heads || adapted_view_addend(view)) return false;
  if (view.quantised) return *view.quantised == type;
  return (view.dtype == DType::F32 && type == GgmlType::F32) || (view.dtype == DType::F16 && type == GgmlType::F16) ||
         (view.dtype == DType::BF16 && type == GgmlType::BF16);
}

// A GGUF donor's tokenizer keys (tokenizer.*), in its order.
void append_donor_tokenizer(std::vector<GgufKeyValue>& metadata, const GgufModel& donor) {
  for (const auto& kv : donor.metadata())
    if (kv.key.starts_with("tokenizer.")) gguf_set(metadata, kv.key, kv.value);
}

}  // namespace

OutputLayout layout_gguf_output(MergePlan& plan, const GgufOutputOptions& opt) {
  const LoadedModel& donor = plan.models[plan.donor];
  // GGUF inputs keep llama.cpp's names when all inputs are GGUF (PlanOptions::gguf_output); else
  // every input is under Hugging Face names.
  const bool from_gguf = std::all_of(plan.models.begin(), plan.models.end(), is_gguf);

  // Names, dimensions, row order.
  std::vector<GgufOutputTensor> tensors;
  std::vector<int64_t> rotary_rows, rotary_heads;
  std::optional<LlamaHeads> heads;
  if (!from_gguf) heads = llama_heads(plan.config);
  for (const TensorJob& job : plan.jobs) {
    GgufOutputTensor t;
    int64_t group = 0, n_heads = 0;
    if (from_gguf) {
      t.name = job.out.name;
    } else {
      const std::optional<GgufName> mapped = gguf_name_from_hf(job.out.name, *heads);
      if (!mapped)
        fail("tensor '", job.out.name, "': no llama.cpp name for it (GGUF output from safetensors knows the Llama "
             "family's tensors); write safetensors instead");
      t.name = mapped->name;
      if (mapped->rotary_heads > 0) {
        if (job.out.shape.size() != 2)
          fail("tensor '", job.out.name, "': llama.cpp's q/k row order is written for 2-D weights only");
        n_heads = mapped->rotary_heads;
        group = job.out.shape[0] / n_heads;
      }
    }
    for (auto it = job.out.shape.rbegin(); it != job.out.shape.rend(); ++it) t.ne.push_back(static_cast<uint64_t>(*it));
    tensors.push_back(std::move(t));
    rotary_rows.push_back(group);
    rotary_heads.push_back(n_heads);
  }
  const bool has_output = std::any_of(tensors.begin(), tensors.end(), [](const GgufOutputTensor& t) {
    return t.name == "output.weight";
  });
  uint64_t parameters = 0;
  // A tensor written unchanged from a quantised input keeps its stored type when no --out-type is
  // given (no merge dtype holds it), and is then copied byte for byte (below).
  std::vector<bool> unchanged(plan.jobs.size());
  for (size_t j = 0; j < tensors.size(); ++j) {
    const TensorJob& job = plan.jobs[j];
    unchanged[j] = writes_input_unchanged(job);
    const std::optional<GgmlType> stored = job.call.inputs.empty() ? std::nullopt : job.call.inputs[0].view.quantised;
    if (!opt.out_type && unchanged[j] && stored)
      tensors[j].type = *stored;
    else
      tensors[j].type = gguf_tensor_type(opt.out_type ? *opt.out_type : ggml_type_of(job.out.dtype, job.out.name),
                                         tensors[j].name, tensors[j].ne, has_output);
    parameters += static_cast<uint64_t>(numel(job.out.shape));
  }

  GgufGeneral general;
  general.name = opt.model_name;
  general.parameters = parameters;
  for (const auto& m : plan.models) general.base_models.push_back(m.label);
  // The file type: --out-type; the donor's when every tensor is a GGUF input's, unchanged in its
  // stored type (a frankenmerge of one quantised model is of its mix, Q4_K_M say); else the type
  // most of the weights' bytes are in.
  const bool all_stored = from_gguf && std::all_of(plan.jobs.begin(), plan.jobs.end(), [&](const TensorJob& job) {
    const size_t j = static_cast<size_t>(&job - plan.jobs.data());
    return unchanged[j] && copy_is_exact(job.call.inputs[0].view, tensors[j].type, 0);
  });
  std::optional<GgufModel> donor_gguf;
  if (from_gguf) donor_gguf.emplace(GgufModel::open(donor.checkpoint->path()));
  const GgufValue* donor_file_type = donor_gguf ? donor_gguf->find_value("general.file_type") : nullptr;
  if (opt.out_type) {
    general.file_type = gguf_file_type(*opt.out_type);
  } else if (all_stored && donor_file_type && donor_file_type->as_int() && *donor_file_type->as_int() >= 0) {
    general.file_type = static_cast<uint32_t>(*donor_file_type->as_int());
  } else {
    std::map<GgmlType, uint64_t> bytes;
    for (const auto& t : tensors) bytes[t.type] += gguf_tensor_bytes(t);
    GgmlType bulk = GgmlType::F32;
    uint64_t most = 0;
    for (const auto& [type, n] : bytes)
      if (n > most) {
        most = n;
        bulk = type;
      }
    general.file_type = gguf_file_type(bulk);
  }
  // The tokenizer: a GGUF donor's keys as they are, else built from the donor's tokenizer files.
  std::vector<GgufKeyValue> metadata;
  if (from_gguf) {
    metadata = gguf_donor_metadata(donor_gguf->metadata(), general, block_count(tensors));
  } else {
    metadata = gguf_llama_metadata(plan.config, general);
    if (opt.tokenizer && is_gguf(donor))
      append_donor_tokenizer(metadata, GgufModel::open(donor.checkpoint->path()));
    else if (opt.tokenizer)
      append_gguf_vocab(metadata, donor.checkpoint->dir(), plan.config, opt.chat_template);
  }
  if (!opt.tokenizer)
    std::erase_if(metadata, [](const GgufKeyValue& kv) { return kv.key.starts_with("tokenizer."); });
  else if (opt.chat_template && is_gguf(donor))
    gguf_set(metadata, "tokenizer.chat_template", gguf_string_value(*opt.chat_template));

  OutputLayout layout = layout_gguf(metadata, tensors, opt.max_split_bytes, opt.file_name);
  static const MethodSpec* passthrough = find_method("passthrough");
  for (size_t j = 0; j < plan.jobs.size(); ++j) {
    layout.placements[j].rotary_group_rows = rotary_rows[j];
    TensorJob& job = plan.jobs[j];
    if (unchanged[j] && copy_is_exact(job.call.inputs[0].view, tensors[j].type, rotary_heads[j]))
      job.method = nullptr;  // the stored bytes (quantised blocks included) are the output's
    else if (!job.method)
      job.method = passthrough;
  }
  return layout;
}

}  // namespace alloy
