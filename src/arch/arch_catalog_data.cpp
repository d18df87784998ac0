// Verbatim copies of data/architectures/*.json, compiled in so that an installed binary needs no
// data directory. The files are the source of truth: edit a file, then paste it here between
// R"json( and )json" (ArchCatalogTest.EmbeddedCopiesMatchFiles fails until both agree).
#include "arch/arch_catalog.h"

namespace alloy {

const std::vector<EmbeddedFile>& embedded_architecture_files() {
  static const std::vector<EmbeddedFile> files = {
      {"bert-masked-lm.json", R"json({
  "architectures": ["BertForMaskedLM", "BertForPreTraining"],
  "model_type": "bert",
  "layer_prefix": "bert.encoder.layer.",
  "num_layers_config_key": "num_hidden_layers",
  "pre_weights": [
    {"name": "bert.embeddings.word_embeddings.weight", "is_embed": true},
    {"name": "bert.embeddings.position_embeddings.weight"},
    {"name": "bert.embeddings.token_type_embeddings.weight"},
    {"name": "bert.embeddings.LayerNorm.weight", "aliases": ["bert.embeddings.LayerNorm.gamma"]},
    {"name": "bert.embeddings.LayerNorm.bias", "aliases": ["bert.embeddings.LayerNorm.beta"]},
    {"name": "bert.embeddings.position_ids", "optional": true, "force_dtype": "int64"}
  ],
  "layer_weights": [
    {"name": "bert.encoder.layer.${layer_index}.attention.self.query.weight"},
    {"name": "bert.encoder.layer.${layer_index}.attention.self.query.bias"},
    {"name": "bert.encoder.layer.${layer_index}.attention.self.key.weight"},
    {"name": "bert.encoder.layer.${layer_index}.attention.self.key.bias"},
    {"name": "bert.encoder.layer.${layer_index}.attention.self.value.weight"},
    {"name": "bert.encoder.layer.${layer_index}.attention.self.value.bias"},
    {"name": "bert.encoder.layer.${layer_index}.attention.output.dense.weight"},
    {"name": "bert.encoder.layer.${layer_index}.attention.output.dense.bias"},
    {"name": "bert.encoder.layer.${layer_index}.attention.output.LayerNorm.weight",
     "aliases": ["bert.encoder.layer.${layer_index}.attention.output.LayerNorm.gamma"]},
    {"name": "bert.encoder.layer.${layer_index}.attention.output.LayerNorm.bias",
     "aliases": ["bert.encoder.layer.${layer_index}.attention.output.LayerNorm.beta"]},
    {"name": "bert.encoder.layer.${layer_index}.intermediate.dense.weight"},
    {"name": "bert.encoder.layer.${layer_index}.intermediate.dense.bias"},
    {"name": "bert.encoder.layer.${layer_index}.output.dense.weight"},
    {"name": "bert.encoder.layer.${layer_index}.output.dense.bias"},
    {"name": "bert.encoder.layer.${layer_index}.output.LayerNorm.weight",
     "aliases": ["bert.encoder.layer.${layer_index}.output.LayerNorm.gamma"]},
    {"name": "bert.encoder.layer.${layer_index}.output.LayerNorm.bias",
     "aliases": ["bert.encoder.layer.${layer_index}.output.LayerNorm.beta"]}
  ],
  "post_weights": [
    {"name": "bert.pooler.dense.weight", "optional": true},
    {"name": "bert.pooler.dense.bias", "optional": true},
    {"name": "cls.predictions.transform.dense.weight"},
    {"name": "cls.predictions.transform.dense.bias"},
    {"name": "cls.predictions.transform.LayerNorm.weight",
     "aliases": ["cls.predictions.transform.LayerNorm.gamma"]},
    {"name": "cls.predictions.transform.LayerNorm.bias",
     "aliases": ["cls.predictions.transform.LayerNorm.beta"]},
    {"name": "cls.predictions.bias"},
    {"name": "cls.predictions.decoder.weight", "is_embed": true, "optional": true,
     "tied_names": ["bert.embeddings.word_embeddings.weight"]},
    {"name": "cls.predictions.decoder.bias", "optional": true, "tied_names": ["cls.predictions.bias"]}
  ]
}
)json"},
      {"bert.json", R"json({
  "architectures": ["BertModel"],
  "model_type": "bert",
  "layer_prefix": "encoder.layer.",
  "num_layers_config_key": "num_hidden_layers",
  "pre_weights": [
    {"name": "embeddings.word_embeddings.weight", "is_embed": true},
    {"name": "embeddings.position_embeddings.weight"},
    {"name": "embeddings.token_type_embeddings.weight"},
    {"name": "embeddings.LayerNorm.weight", "aliases": ["embeddings.LayerNorm.gamma"]},
    {"name": "embeddings.LayerNorm.bias", "aliases": ["embeddings.LayerNorm.beta"]},
    {"name": "embeddings.position_ids", "optional": true, "force_dtype": "int64"}
  ],
  "layer_weights": [
    {"name": "encoder.layer.${layer_index}.attention.self.query.weight"},
    {"name": "encoder.layer.${layer_index}.attention.self.query.bias"},
    {"name": "encoder.layer.${layer_index}.attention.self.key.weight"},
    {"name": "encoder.layer.${layer_index}.attention.self.key.bias"},
    {"name": "encoder.layer.${layer_index}.attention.self.value.weight"},
    {"name": "encoder.layer.${layer_index}.attention.self.value.bias"},
    {"name": "encoder.layer.${layer_index}.attention.output.dense.weight"},
    {"name": "encoder.layer.${layer_index}.attention.output.dense.bias"},
    {"name": "encoder.layer.${layer_index}.attention.output.LayerNorm.weight",
     "aliases": ["encoder.layer.${layer_index}.attention.output.LayerNorm.gamma"]},
    {"name": "encoder.layer.${layer_index}.attention.output.LayerNorm.bias",
     "aliases": ["encoder.layer.${layer_index}.attention.output.LayerNorm.beta"]},
    {"name": "encoder.layer.${layer_index}.intermediate.dense.weight"},
    {"name": "encoder.layer.${layer_index}.intermediate.dense.bias"},
    {"name": "encoder.layer.${layer_index}.output.dense.weight"},
    {"name": "encoder.layer.${layer_index}.output.dense.bias"},
    {"name": "encoder.layer.${layer_index}.output.LayerNorm.weight",
     "aliases": ["encoder.layer.${layer_index}.output.LayerNorm.gamma"]},
    {"name": "encoder.layer.${layer_index}.output.LayerNorm.bias",
     "aliases": ["encoder.layer.${layer_index}.output.LayerNorm.beta"]}
  ],
  "post_weights": [
    {"name": "pooler.dense.weight", "optional": true},
    {"name": "pooler.dense.bias", "optional": true}
  ]
}
)json"},
      {"gpt-neox.json", R"json({
  "architectures": ["GPTNeoXForCausalLM"],
  "model_type": "gpt_neox",
  "layer_prefix": "gpt_neox.layers.",
  "num_layers_config_key": "num_hidden_layers",
  "pre_weights": [
    {"name": "gpt_neox.embed_in.weight", "is_embed": true}
  ],
  "layer_weights": [
    {"name": "gpt_neox.layers.${layer_index}.input_layernorm.weight"},
    {"name": "gpt_neox.layers.${layer_index}.input_layernorm.bias"},
    {"name": "gpt_neox.layers.${layer_index}.post_attention_layernorm.weight"},
    {"name": "gpt_neox.layers.${layer_index}.post_attention_layernorm.bias"},
    {"name": "gpt_neox.layers.${layer_index}.attention.query_key_value.weight"},
    {"name": "gpt_neox.layers.${layer_index}.attention.query_key_value.bias"},
    {"name": "gpt_neox.layers.${layer_index}.attention.dense.weight"},
    {"name": "gpt_neox.layers.${layer_index}.attention.dense.bias"},
    {"name": "gpt_neox.layers.${layer_index}.mlp.dense_h_to_4h.weight"},
    {"name": "gpt_neox.layers.${layer_index}.mlp.dense_h_to_4h.bias"},
    {"name": "gpt_neox.layers.${layer_index}.mlp.dense_4h_to_h.weight"},
    {"name": "gpt_neox.layers.${layer_index}.mlp.dense_4h_to_h.bias"},
    {"name": "gpt_neox.layers.${layer_index}.attention.bias", "optional": true},
    {"name": "gpt_neox.layers.${layer_index}.attention.masked_bias", "optional": true},
    {"name": "gpt_neox.layers.${layer_index}.attention.rotary_emb.inv_freq", "optional": true}
  ],
  "post_weights": [
    {"name": "gpt_neox.final_layer_norm.weight"},
    {"name": "gpt_neox.final_layer_norm.bias"},
    {"name": "embed_out.weight", "is_embed": true, "optional": true,
     "tied_names": ["gpt_neox.embed_in.weight"]}
  ]
}
)json"},
      {"gpt2-bare.json", R"json({
  "architectures": ["GPT2LMHeadModel", "GPT2Model"],
  "model_type": "gpt2",
  "layer_prefix": "h.",
  "num_layers_config_key": "n_layer",
  "pre_weights": [
    {"name": "wte.weight", "is_embed": true},
    {"name": "wpe.weight"}
  ],
  "layer_weights": [
    {"name": "h.${layer_index}.ln_1.weight"},
    {"name": "h.${layer_index}.ln_1.bias"},
    {"name": "h.${layer_index}.attn.c_attn.weight"},
    {"name": "h.${layer_index}.attn.c_attn.bias"},
    {"name": "h.${layer_index}.attn.c_proj.weight"},
    {"name": "h.${layer_index}.attn.c_proj.bias"},
    {"name": "h.${layer_index}.ln_2.weight"},
    {"name": "h.${layer_index}.ln_2.bias"},
    {"name": "h.${layer_index}.mlp.c_fc.weight"},
    {"name": "h.${layer_index}.mlp.c_fc.bias"},
    {"name": "h.${layer_index}.mlp.c_proj.weight"},
    {"name": "h.${layer_index}.mlp.c_proj.bias"},
    {"name": "h.${layer_index}.attn.bias", "optional": true},
    {"name": "h.${layer_index}.attn.masked_bias", "optional": true}
  ],
  "post_weights": [
    {"name": "ln_f.weight"},
    {"name": "ln_f.bias"},
    {"name": "lm_head.weight", "is_embed": true, "optional": true, "tied_names": ["wte.weight"]}
  ]
}
)json"},
      {"gpt2.json", R"json({
  "architectures": ["GPT2LMHeadModel"],
  "model_type": "gpt2",
  "layer_prefix": "transformer.h.",
  "num_layers_config_key": "n_layer",
  "pre_weights": [
    {"name": "transformer.wte.weight", "is_embed": true},
    {"name": "transformer.wpe.weight"}
  ],
  "layer_weights": [
    {"name": "transformer.h.${layer_index}.ln_1.weight"},
    {"name": "transformer.h.${layer_index}.ln_1.bias"},
    {"name": "transformer.h.${layer_index}.attn.c_attn.weight"},
    {"name": "transformer.h.${layer_index}.attn.c_attn.bias"},
    {"name": "transformer.h.${layer_index}.attn.c_proj.weight"},
    {"name": "transformer.h.${layer_index}.attn.c_proj.bias"},
    {"name": "transformer.h.${layer_index}.ln_2.weight"},
    {"name": "transformer.h.${layer_index}.ln_2.bias"},
    {"name": "transformer.h.${layer_index}.mlp.c_fc.weight"},
    {"name": "transformer.h.${layer_index}.mlp.c_fc.bias"},
    {"name": "transformer.h.${layer_index}.mlp.c_proj.weight"},
    {"name": "transformer.h.${layer_index}.mlp.c_proj.bias"},
    {"name": "transformer.h.${layer_index}.attn.bias", "optional": true},
    {"name": "transformer.h.${layer_index}.attn.masked_bias", "optional": true}
  ],
  "post_weights": [
    {"name": "transformer.ln_f.weight"},
    {"name": "transformer.ln_f.bias"},
    {"name": "lm_head.weight", "is_embed": true, "optional": true,
     "tied_names": ["transformer.wte.weight"]}
  ]
}
)json"},
      {"llama.json", R"json({
  "architectures": ["LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"],
  "layer_prefix": "model.layers.",
  "num_layers_config_key": "num_hidden_layers",
  "pre_weights": [
    {"name": "model.embed_tokens.weight", "is_embed": true}
  ],
  "layer_weights": [
    {"name": "model.layers.${layer_index}.input_layernorm.weight"},
    {"name": "model.layers.${layer_index}.self_attn.q_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.k_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.v_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.o_proj.weight"},
    {"name": "model.layers.${layer_index}.post_attention_layernorm.weight"},
    {"name": "model.layers.${layer_index}.mlp.gate_proj.weight"},
    {"name": "model.layers.${layer_index}.mlp.up_proj.weight"},
    {"name": "model.layers.${layer_index}.mlp.down_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.rotary_emb.inv_freq", "optional": true}
  ],
  "post_weights": [
    {"name": "model.norm.weight"},
    {"name": "lm_head.weight", "is_embed": true, "optional": true,
     "tied_names": ["model.embed_tokens.weight"]}
  ]
}
)json"},
      {"qwen2.json", R"json({
  "architectures": ["Qwen2ForCausalLM"],
  "model_type": "qwen2",
  "layer_prefix": "model.layers.",
  "num_layers_config_key": "num_hidden_layers",
  "pre_weights": [
    {"name": "model.embed_tokens.weight", "is_embed": true}
  ],
  "layer_weights": [
    {"name": "model.layers.${layer_index}.input_layernorm.weight"},
    {"name": "model.layers.${layer_index}.self_attn.q_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.q_proj.bias"},
    {"name": "model.layers.${layer_index}.self_attn.k_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.k_proj.bias"},
    {"name": "model.layers.${layer_index}.self_attn.v_proj.weight"},
    {"name": "model.layers.${layer_index}.self_attn.v_proj.bias"},
    {"name": "model.layers.${layer_index}.self_attn.o_proj.weight"},
    {"name": "model.layers.${layer_index}.post_attention_layernorm.weight"},
    {"name": "model.layers.${layer_index}.mlp.gate_proj.weight"},
    {"name": "model.layers.${layer_index}.mlp.up_proj.weight"},
    {"name": "model.layers.${layer_index}.mlp.down_proj.weight"}
  ],
  "post_weights": [
    {"name": "model.norm.weight"},
    {"name": "lm_head.weight", "is_embed": true, "optional": true,
     "tied_names": ["model.embed_tokens.weight"]}
  ]
}
)json"},
  };
  return files;
}

}  // namespace alloy
