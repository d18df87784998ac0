#include "io/gguf_checkpoint.h"

#include <algorithm>

#include "io/gguf_names.h"
#include "io/gguf_vocab_check.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<DType> plain_dtype(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    case GgmlType::F64: return DType::F64;
    case GgmlType::I8: return DType::I8;
    case GgmlType::I16: return DType::I16;
    case GgmlType::I32: return DType::I32;
    case GgmlType::I64: return DType::I64;
    default: return std::nullopt;
  }
}

TensorView view_of(const GgufTensor& t, const fs::path& path) {
  const GgufTensorInfo& info = *t.info;
  TensorView v;
  v.shape = info.shape;
  v.data = t.data();
  v.nbytes = info.nbytes;
  v.file_mapped = true;
  if (std::optional<DType> d = plain_dtype(info.type)) {
    v.dtype = *d;
    return v;
  }
  if (!traits(info.type).dequantise)
    fail(path.string(), ": tensor '", info.name, "' is stored as ", ggml_type_name(info.type),
         ", which alloy cannot dequantise (it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K to Q6_K)");
  v.dtype = DType::F32;
  v.quantised = info.type;
  return v;
}

json scalar_json(const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING: return v.text;
    case GgufType::BOOL: return v.integer != 0;
    case GgufType::F32:
    case GgufType::F64: return v.real;
    case GgufType::U64: return v.unsigned_integer;
    default: return v.integer;
  }
}

// Scalar metadata nested at the dots; arrays (the tokenizer's vocabulary) are left out. A key of
// more parts than a JSON file may nest levels (kMaxJsonDepth) keeps its full name, so the config
// stays as shallow as any config.json alloy reads.
json native_config(const GgufModel& model) {
  json config = json::object();
  for (const GgufKeyValue& kv : model.metadata()) {
    if (kv.value.type == GgufType::ARRAY) continue;
    if (std::count(kv.key.begin(), kv.key.end(), '.') >= kMaxJsonDepth) {
      config[kv.key] = scalar_json(kv.value);
      continue;
    }
    try {
      json_set_dotted(config, kv.key, scalar_json(kv.value));
    } catch (const Error&) {
      // A key that is both a value and a prefix of other keys keeps its value under its full name.
      config[kv.key] = scalar_json(kv.value);
    }
  }
  return config;
}

}  // namespace

json hf_config_from_gguf(const GgufModel& model) {
  const std::string arch = model.architecture();
  const LlamaFamilyArch* family = llama_family_by_gguf_arch(arch);
  if (!family) fail("general.architecture '", arch, "' is not of the Llama family (llama, qwen2)");
  auto value = [&](const std::string& key) { return model.find_value(arch + "." + key); };
  auto integer = [&](const std::string& key, bool required) -> std::optional<int64_t> {
    const GgufValue* v = value(key);
    if (v && v->as_int()) return v->as_int();
    if (required) fail("metadata key '", arch, ".", key, "' is missing or not an integer");
    return std::nullopt;
  };
  if (const GgufValue* scaling = value("rope.scaling.type"); scaling && scaling->text != "none")
    fail("metadata key '", arch, ".rope.scaling.type' is '", scaling->text,
         "': alloy does not rebuild config.json's rope_scaling from it; merge into GGUF (--out-format gguf)");
  json c = json::object();
  c["architectures"] = json::array({std::string(family->hf_class)});
  c["model_type"] = std::string(family->model_type);
  const int64_t hidden = *integer("embedding_length", true);
  c["hidden_size"] = hidden;
  c["intermediate_size"] = *integer("feed_forward_length", true);
  c["num_hidden_layers"] = *integer("block_count", true);
  const int64_t heads = *integer("attention.head_count", true);
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = integer("attention.head_count_kv", false).value_or(heads);
  if (auto n = integer("context_length", false)) c["max_position_embeddings"] = *n;
  // Whether d · heads == hidden, asked without multiplying: both come from the file and may overflow.
  if (auto d = integer("attention.key_length", false); d && heads > 0 && (hidden % heads != 0 || hidden / heads != *d))
    c["head_dim"] = *d;
  if (const GgufValue* eps = value("attention.layer_norm_rms_epsilon"); eps && eps->as_double())
    c["rms_norm_eps"] = *eps->as_double();
  if (const GgufValue* theta = value("rope.freq_base"); theta && theta->as_double())
    c["rope_theta"] = *theta->as_double();
  const GgufTensor* embed = model.find_tensor("token_embd.weight");
  if (!embed) fail("tensor 'token_embd.weight' is missing");
  if (embed->info->shape.size() != 2)
    fail("tensor 'token_embd.weight' has shape ", shape_str(embed->info->shape), ", not [vocab, hidden]");
  c["vocab_size"] = embed->info->shape.front();
  c["tie_word_embeddings"] = model.find_tensor("output.weight") == nullptr;
  for (const char* id : {"bos_token_id", "eos_token_id"})
    if (const GgufValue* v = model.find_value(std::string("tokenizer.ggml.") + id); v && v->as_int())
      c[id] = *v->as_int();
  c["torch_dtype"] = "float32";
  return c;
}

std::shared_ptr<const Checkpoint> open_gguf_checkpoint(const fs::path& path, const CheckpointOptions& options) {
  GgufModel model = GgufModel::open(path);
  try {
    check_gguf_vocabulary(model);
  } catch (const Error& e) {
    rethrow_with(path.string(), e);
  }
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  auto ck = Checkpoint::assemble(path, dir, "gguf", true);
  std::unordered_map<const GgufFile*, size_t> file_index;
  for (const auto& file : model.files())
    file_index[file.get()] = ck->add_file({file, &file->mapping(), file->header().data_start});

  if (options.gguf_llama_cpp_names) {
    ck->set_config(native_config(model));
    for (const GgufTensor& t : model.tensors()) ck->add_tensor(t.info->name, view_of(t, path), file_index.at(t.file));
    return ck;
  }
  json config;
  try {
    config = hf_config_from_gguf(model);
  } catch (const Error& e) {
    fail(path.string(), ": ", e.what(), ". Only Llama-family GGUF models (llama, qwen2) have Hugging Face names "
         "in alloy, which merging with safetensors models or into safetensors output needs; merge GGUF models "
         "into GGUF output (--out-format gguf) instead");
  }
  const LlamaHeads heads = llama_heads(config);
  for (const GgufTensor& t : model.tensors()) {
    const std::optional<GgufName> hf = hf_name_from_gguf(t.info->name, heads);
    if (!hf)
      fail(path.string(), ": tensor '", t.info->name, "' has no Hugging Face name in alloy's Llama-family map, so "
           "the model cannot be merged with safetensors models or written as safetensors; merge GGUF models into "
           "GGUF output (--out-format gguf) instead");
    TensorView v = view_of(t, path);
    if (hf->rotary_heads > 0) {
      const int64_t permuted = v.shape.size() == 1 ? v.shape[0] : v.rows();
      // Twice the heads (from the file) is formed only once it is known not to pass the rows.
      if (v.shape.size() > 2 ||
          (permuted != 0 && (hf->rotary_heads > permuted / 2 || permuted % (2 * hf->rotary_heads) != 0)))
        fail(path.string(), ": tensor '", t.info->name, "' of shape ", shape_str(v.shape), " cannot hold ",
             hf->rotary_heads, " rotary heads (rows must be a multiple of twice the heads)");
      v.rotary_heads = hf->rotary_heads;
    }
    ck->add_tensor(hf->name, v, file_index.at(t.file));
  }
  ck->set_config(std::move(config));
  return ck;
}

}  // namespace alloy
