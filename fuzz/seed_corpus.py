#!/usr/bin/env python3
"""Writes the hand-built seeds of tests/corpus/ (safetensors, index, GGUF), encoding each format
from its specification with struct and json only, the PyTorch .bin seeds (written with Python's
pickle and zipfile, fuzz/torch_save.py), and copies the small real files of the test data
(configs, SentencePiece model, recipes). Run from the repository root; the output is
committed, so this only needs re-running when a seed is added."""
import collections
import json
import pathlib
import pickle
import shutil
import struct

import torch_save as ts

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), stored in the order given."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(raw for *_, raw in tensors)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, alignment=32):
    """kvs: list of (key, type id, encoded value); tensors: (name, ne, ggml type, raw bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, type_id, value in kvs:
        out += gguf_string(key) + struct.pack("<I", type_id) + value
    offset, data = 0, b""
    for name, ne, ggml_type, raw in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ggml_type, offset)
        pad = -len(raw) % alignment
        data += raw + b"\0" * pad
        offset += len(raw) + pad
    out += b"\0" * (-len(out) % alignment)
    return out + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def patched(data, at, fmt, value):
    """data with the little-endian field at byte `at` replaced."""
    return data[:at] + struct.pack("<" + fmt, value) + data[at + struct.calcsize(fmt):]


def zip_records(archive):
    """(offset of the end record, {entry name: offset of its central directory header})."""
    end = archive.rindex(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HII", archive, end + 10)
    if cd_offset == 0xFFFFFFFF:  # zip64: the zip64 end record, found through its locator, has them
        record = struct.unpack_from("<Q", archive, end - 20 + 8)[0]
        count, cd_offset = struct.unpack_from("<Q", archive, record + 32)[0], struct.unpack_from("<Q", archive, record + 48)[0]
    headers, at = {}, cd_offset
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", archive, at + 28)
        headers[archive[at + 46:at + 46 + name_len].decode()] = at
        at += 46 + name_len + extra_len + comment_len
    return end, headers


def one_tensor(size, stride=None, offset=0, storage=None):
    """The state dict {'t': tensor}, by default over a storage of the six floats 1..6."""
    storage = storage or ts.Storage("FloatStorage", "0", [1, 2, 3, 4, 5, 6])
    return ts.state_dict([("t", ts.Tensor(storage, size, offset, stride))])


def torch_seeds():
    """tests/corpus/torch_bin (whole archives) and torch_pickle (their data.pkl alone)."""
    floats = ts.Storage("FloatStorage", "0", [1, 2, 3, 4, 5, 6])
    embed = ts.Tensor(floats, (2, 3))
    model = ts.state_dict([
        ("model.embed_tokens.weight", embed),
        ("lm_head.weight", embed),  # tied: the same tensor object, a memo reference in the pickle
        ("model.row1", ts.Tensor(floats, (3,), offset=3)),
        ("model.norm.weight", ts.Tensor(ts.Storage("BFloat16Storage", "1", [0x3F80, 0xC000, 0x3F00]), (3,))),
        ("model.scale", ts.Tensor(ts.Storage("DoubleStorage", "2", [0.125]), ())),
        ("model.empty", ts.Tensor(ts.Storage("HalfStorage", "3", []), (0, 4))),
        ("buffer.position_ids", ts.Tensor(ts.Storage("LongStorage", "4", [0, 1, 2, 3]), (1, 4))),
        ("buffer.mask", ts.Tensor(ts.Storage("BoolStorage", "5", [True, False, True]), (3,))),
    ], collections.OrderedDict([("", {"version": 1}), ("model", {"version": 1})]))
    halves = ts.Storage("HalfStorage", "0", [0x3C00 + i for i in range(512)])
    training = {"epoch": 3, "step": 1000, "state_dict": {
        "encoder.weight": ts.Parameter(ts.Tensor(halves, (16, 32))),
        "encoder.bias": ts.Parameter(ts.Tensor(ts.Storage("FloatStorage", "1", [0.5] * 16), (16,))),
        "encoder.ids": ts.Tensor(ts.Storage("IntStorage", "2", [7, -7]), (2,))}}
    ok = {"ok-state-dict": ts.data_pkl(model),
          "ok-training-checkpoint-protocol4": ts.data_pkl(training, protocol=4),
          "ok-parameter-protocol2": ts.data_pkl({"p": ts.Parameter(ts.Tensor(floats, (6,)))})}
    for name, (pkl, storages) in ok.items():
        put("torch_bin", name, ts.torch_save(None, pickle_bytes=pkl, storages=storages))
        put("torch_pickle", name, pkl)
    put("torch_bin", "ok-zip64", ts.torch_save(None, pickle_bytes=ok["ok-state-dict"][0], storages=ok["ok-state-dict"][1],
                                               zip64=True))

    # The zip layer, from a real archive with one field broken.
    good = ts.torch_save(model)
    end, central = zip_records(good)
    put("torch_bin", "bad-truncated-zip", good[:len(good) // 2])
    put("torch_bin", "bad-central-directory-past-end", patched(good, end + 16, "I", len(good) + 100))
    put("torch_bin", "bad-central-directory-count", patched(good, end + 10, "H", 0xFFF0))
    put("torch_bin", "bad-zip64-without-locator", patched(good, end + 16, "I", 0xFFFFFFFF))
    storage0 = central["archive/data/0"]
    put("torch_bin", "bad-entry-sizes-differ", patched(good, storage0 + 24, "I", 25))
    put("torch_bin", "bad-entry-past-end", patched(patched(good, storage0 + 20, "I", 0x7FFFFFF0), storage0 + 24, "I",
                                                   0x7FFFFFF0))
    big = ts.torch_save(model, zip64=True)
    _, big_central = zip_records(big)
    locator = big.rindex(b"PK\x06\x07")
    put("torch_bin", "bad-zip64-record-past-end", patched(big, locator + 8, "Q", 1 << 62))
    put("torch_bin", "bad-zip64-extra-too-short", patched(big, big_central["archive/data/0"] + 46 + len("archive/data/0") + 2,
                                                          "H", 16))
    put("torch_bin", "bad-local-header-past-end", patched(good, central["archive/data.pkl"] + 42, "I", len(good) + 10))
    put("torch_bin", "bad-local-header-misplaced", patched(good, central["archive/data.pkl"] + 42, "I", 7))
    put("torch_bin", "bad-compressed-pickle", ts.torch_save(model, compressed={"archive/data.pkl"}))
    put("torch_bin", "bad-no-data-pkl", ts.zip_archive([("weights/0", b"\0" * 8)]))
    put("torch_bin", "bad-big-endian", ts.torch_save(model, byteorder=b"big"))
    # torch.save before 1.6: pickles one after another, the first the magic number 0x1950a86a20f9469cfc6c.
    put("torch_bin", "bad-legacy-format", pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, 2))

    # Tensors that do not fit their storage: the pickle is well formed, the archive's bytes are short.
    short = ts.Storage("FloatStorage", "0", [1, 2, 3, 4, 5, 6])
    put("torch_bin", "bad-shape-past-storage", ts.torch_save(one_tensor((3, 3), storage=short)))
    put("torch_bin", "bad-offset-past-storage", ts.torch_save(one_tensor((3,), offset=4, storage=short)))
    lying = ts.Storage("FloatStorage", "0", [1, 2, 3, 4, 5, 6], numel=16)
    put("torch_bin", "bad-storage-numel-past-bytes", ts.torch_save(one_tensor((4, 4), storage=lying)))
    put("torch_bin", "bad-storage-missing", ts.torch_save(one_tensor((6,)), storages=[]))
    put("torch_bin", "bad-not-contiguous", ts.torch_save(one_tensor((3, 2), stride=(1, 3))))

    # Pickles every reader of data.pkl must refuse: in torch_pickle alone and inside an archive.
    bad_state_dicts = {
        "bad-negative-stride": one_tensor((2, 3), stride=(-3, 1)),
        "bad-negative-size": one_tensor((-1,), stride=(1,)),
        "bad-negative-offset": one_tensor((1,), offset=-1),
        "bad-shape-product-overflows": one_tensor((1 << 40, 1 << 40, 1 << 40), stride=(1, 1, 1)),
        "bad-too-many-dimensions": one_tensor((1,) * 65),
        "bad-long-storage-key": one_tensor((6,), storage=ts.Storage("FloatStorage", "7" * 65, [0] * 6)),
        "bad-long-tensor-name": ts.state_dict([("n" * 1025, ts.Tensor(short, (6,)))]),
    }
    proto2 = b"\x80\x02"
    bad_pickles = {name: ts.data_pkl(sd) for name, sd in bad_state_dicts.items()}
    bad_pickles.update({name: (pkl, [short]) for name, pkl in {
        "bad-os-system": proto2 + b"cos\nsystem\nX\x07\0\0\0echo hi\x85R.",
        "bad-huge-string-length": proto2 + b"X\xf0\xff\xff\x7fabc",
        "bad-long1-too-wide": proto2 + b"}X\x01\0\0\0a\x8a\xff" + b"\x01" * 255 + b"s.",
        "bad-huge-binunicode8-length": proto2 + b"\x8d" + struct.pack("<Q", (1 << 63) + 5) + b"abc",
        "bad-memo-index": proto2 + b"}j\0\0\0\x10s.",
        "bad-stack-underflow": proto2 + b"}(s.",
        "bad-reduce-on-empty-stack": proto2 + b"R.",
        "bad-unknown-opcode": proto2 + b"}\xff.",
        "bad-float-opcode": proto2 + b"}X\x02\0\0\0lrG?\xb9\x99\x99\x99\x99\x99\x9as.",
        "bad-deep-nested-lists": proto2 + b"]" * 3000 + b"a" * 2999 + b".",
        "bad-deep-marks": proto2 + b"(" * 5000 + b"}.",
        "bad-no-stop": proto2 + b"}",
    }.items()})
    for name, (pkl, storages) in bad_pickles.items():
        put("torch_pickle", name, pkl)
        put("torch_bin", name, ts.torch_save(None, pickle_bytes=pkl, storages=storages))


def gguf_kv_u32(key, n):
    return (key, 4, struct.pack("<I", n))


def gguf_kv_f32(key, x):
    return (key, 6, struct.pack("<f", x))


def gguf_array(type_id, fmt, values):
    return struct.pack("<IQ", type_id, len(values)) + b"".join(struct.pack(fmt, v) for v in values)


def ramp(n, scale):
    """n small distinct floats, so a row read from the wrong place shows."""
    return f32(*[(i % 17 - 8) * scale for i in range(n)])


def llama_gguf(dim=8, ff=16, heads=2, kv_heads=1, vocab=6, ffn_down=None, tokens=None, extra_kvs=(),
               drop_kvs=(), token_embd=None):
    """A one-layer Llama model as llama.cpp names and stores it: metadata by gguf.md and
    convert_hf_to_gguf.py's keys, ne in ggml order ([row length, rows])."""
    tokens = tokens if tokens is not None else ["<unk>", "<s>", "</s>", "\u2581a", "b", "c"][:vocab]
    head_dim = dim // heads
    kvs = [("general.architecture", 8, gguf_string("llama")), ("general.name", 8, gguf_string("seed")),
           gguf_kv_u32("llama.context_length", 64), gguf_kv_u32("llama.embedding_length", dim),
           gguf_kv_u32("llama.block_count", 1), gguf_kv_u32("llama.feed_forward_length", ff),
           gguf_kv_u32("llama.rope.dimension_count", head_dim), gguf_kv_u32("llama.attention.head_count", heads),
           gguf_kv_u32("llama.attention.head_count_kv", kv_heads),
           gguf_kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5), gguf_kv_f32("llama.rope.freq_base", 10000),
           gguf_kv_u32("general.file_type", 0), ("tokenizer.ggml.model", 8, gguf_string("llama")),
           ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, len(tokens)) + b"".join(gguf_string(t) for t in tokens)),
           ("tokenizer.ggml.scores", 9, gguf_array(6, "<f", [-float(i) for i in range(len(tokens))])),
           ("tokenizer.ggml.token_type", 9, gguf_array(5, "<i", [2, 3, 3] + [1] * (len(tokens) - 3))),
           gguf_kv_u32("tokenizer.ggml.bos_token_id", 1), gguf_kv_u32("tokenizer.ggml.eos_token_id", 2)]
    kvs = [kv for kv in kvs if kv[0] not in drop_kvs] + list(extra_kvs)
    kv_dim = kv_heads * head_dim
    tensors = [token_embd or ("token_embd.weight", [dim, vocab], 0, ramp(dim * vocab, 0.01)),
               ("blk.0.attn_norm.weight", [dim], 0, f32(*[1.0] * dim)),
               ("blk.0.attn_q.weight", [dim, dim], 0, ramp(dim * dim, 0.02)),
               ("blk.0.attn_k.weight", [dim, kv_dim], 0, ramp(dim * kv_dim, 0.03)),
               ("blk.0.attn_v.weight", [dim, kv_dim], 0, ramp(dim * kv_dim, 0.04)),
               ("blk.0.attn_output.weight", [dim, dim], 0, ramp(dim * dim, 0.05)),
               ("blk.0.ffn_norm.weight", [dim], 0, f32(*[1.0] * dim)),
               ("blk.0.ffn_gate.weight", [dim, ff], 0, ramp(dim * ff, 0.06)),
               ("blk.0.ffn_up.weight", [dim, ff], 0, ramp(dim * ff, 0.07)),
               ffn_down or ("blk.0.ffn_down.weight", [ff, dim], 0, ramp(ff * dim, 0.08)),
               ("output_norm.weight", [dim], 0, f32(*[1.0] * dim))]
    return gguf(kvs, tensors)


def q8_0_rows(rows):
    """Q8_0 blocks of 32: an f16 scale, then 32 int8 quants."""
    return b"".join(struct.pack("<e", 0.25 + r / 8) + bytes((i * 7 + r) % 256 for i in range(32)) for r in range(rows))


def adapter_config(**keys):
    """An adapter_config.json with the keys PEFT's LoraConfig.save_pretrained writes, then `keys`."""
    config = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "org/base", "bias": "none",
              "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
              "layer_replication": None, "layers_pattern": None, "layers_to_transform": None, "loftq_config": {},
              "lora_alpha": 16, "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core",
              "modules_to_save": None, "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
              "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM", "use_dora": False,
              "use_rslora": False}
    config.update(keys)
    return json.dumps(config, indent=2, sort_keys=True)


def main():
    put("safetensors_header", "ok-two-f32", safetensors(
        [("a", "F32", [2, 2], f32(1, 2, 3, 4)), ("b", "F32", [2], f32(5, 6))]))
    put("safetensors_header", "ok-bf16-i64-metadata", safetensors(
        [("x", "I64", [1], struct.pack("<q", -7)), ("w", "BF16", [3], b"\x80\x3f\x00\x40\x40\x40")],
        {"format": "pt", "note": "seed"}))
    put("safetensors_header", "ok-empty-and-scalar", safetensors(
        [("empty", "F16", [0, 4], b""), ("s", "F32", [], f32(1.5))]))
    put("safetensors_header", "bad-offsets-past-end", safetensors([("a", "F32", [2], f32(1))]))

    index = {"metadata": {"total_size": 24},
             "weight_map": {"a": "model-00001-of-00001.safetensors", "b": "model-00001-of-00001.safetensors"}}
    put("safetensors_index", "ok-two-tensors", json.dumps(index, indent=2))
    put("safetensors_index", "bad-missing-shard", json.dumps({"weight_map": {"a": "model-2.safetensors"}}))
    put("safetensors_index", "bad-tensor-not-in-shard",
        json.dumps({"weight_map": {"zz": "model-00001-of-00001.safetensors"}}))

    tokens = [b"<unk>", b"a", b"b"]
    token_array = struct.pack("<IQ", 8, len(tokens)) + b"".join(gguf_string(t.decode()) for t in tokens)
    kvs = [("general.architecture", 8, gguf_string("llama")),
           ("general.alignment", 4, struct.pack("<I", 32)),
           ("llama.block_count", 4, struct.pack("<I", 1)),
           ("tokenizer.ggml.tokens", 9, token_array),
           ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + f32(0, -1, -2))]
    q8_0_block = struct.pack("<e", 0.5) + bytes(range(32))  # scale then 32 int8 quants
    put("gguf", "ok-f32-and-q8_0", gguf(kvs, [("token_embd.weight", [2, 3], 0, f32(*range(6))),
                                              ("blk.0.ffn_up.weight", [32, 1], 8, q8_0_block)]))
    put("gguf", "ok-metadata-only", gguf(kvs[:1], []))
    put("gguf", "bad-truncated", gguf(kvs, [("t", [4], 0, f32(1, 2, 3, 4))])[:-24])

    put("gguf_model", "ok-llama-f32", llama_gguf())
    put("gguf_model", "ok-llama-q8_0-tied", llama_gguf(ff=32, ffn_down=("blk.0.ffn_down.weight", [32, 8], 8, q8_0_rows(8))))
    put("gguf_model", "bad-tensor-offset-past-end", llama_gguf()[:-64])
    # Q8_0 rows of 8 elements: not whole blocks of 32.
    put("gguf_model", "bad-q8_0-row-not-whole-blocks",
        llama_gguf(ffn_down=("blk.0.ffn_down.weight", [8, 16], 8, q8_0_rows(4))))
    put("gguf_model", "bad-vocab-longer-than-embedding", llama_gguf(tokens=["<unk>", "<s>", "</s>", "a", "b", "c", "d"]))
    put("gguf_model", "bad-block-count-is-a-string", llama_gguf(
        drop_kvs=("llama.block_count",), extra_kvs=[("llama.block_count", 8, gguf_string("1"))]))
    put("gguf_model", "bad-tokens-not-strings", llama_gguf(
        drop_kvs=("tokenizer.ggml.tokens",), extra_kvs=[("tokenizer.ggml.tokens", 9, gguf_array(5, "<i", range(6)))]))

    # Twice these heads wraps to -4, which divides attn_q's 8 rows; reading them divided by zero.
    put("gguf_model", "bad-head-count-near-int64-max", llama_gguf(
        drop_kvs=("llama.attention.head_count",),
        extra_kvs=[("llama.attention.head_count", 11, struct.pack("<q", 2**63 - 2))]))
    put("gguf_model", "bad-embedding-0d", llama_gguf(token_embd=("token_embd.weight", [], 0, f32(1.0))))

    put("lora_adapter", "ok-peft-save-pretrained", adapter_config())
    put("lora_adapter", "ok-regex-patterns-rslora", adapter_config(
        target_modules=r".*layers\.[0-9]+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)",
        exclude_modules=["model.layers.1.mlp.down_proj"], rank_pattern={"q_proj": 4, r"layers\.1\..*": 2},
        alpha_pattern={"model.layers.0.self_attn.v_proj": 32}, modules_to_save=["lm_head", "embed_tokens"],
        use_rslora=True, init_lora_weights="gaussian"))
    put("lora_adapter", "ok-all-linear", json.dumps({"r": 16, "lora_alpha": 32, "target_modules": "all-linear",
                                                       "peft_type": "LORA", "exclude_modules": "lm_head"}))
    # A backtracking matcher tries 2^30 ways before failing on a 31-character module name.
    put("lora_adapter", "ok-backtracking-regex", adapter_config(target_modules="(.*.*)*x"))
    put("lora_adapter", "bad-r-negative", adapter_config(r=-8))
    put("lora_adapter", "bad-r-past-int64", adapter_config(r=18446744073709551615))
    put("lora_adapter", "bad-r-huge-float", adapter_config(r=1e300))
    put("lora_adapter", "bad-r-a-string", adapter_config(r="8"))
    put("lora_adapter", "bad-alpha-a-list", adapter_config(lora_alpha=[16]))
    put("lora_adapter", "bad-no-target-modules", json.dumps({"r": 8, "lora_alpha": 16, "peft_type": "LORA"}))
    put("lora_adapter", "bad-target-modules-null", adapter_config(target_modules=None))
    put("lora_adapter", "bad-unknown-key", adapter_config(lora_new_switch=True))
    put("lora_adapter", "bad-use-dora", adapter_config(use_dora=True))
    put("lora_adapter", "bad-not-an-object", json.dumps([adapter_config()]))
    put("lora_adapter", "bad-regex-too-large", adapter_config(target_modules="(){3000}q_proj"))
    put("lora_adapter", "bad-regex-back-reference", adapter_config(rank_pattern={r"(q)_\1": 4}))

    data = ROOT / "tests" / "data" / "stories260K" / "base"
    put("config_json", "ok-stories260K", (data / "config.json").read_bytes())
    put("sentencepiece_model", "ok-stories260K", (data / "tokenizer.model").read_bytes())
    # tokenizer_config.json against the fixture family's tokenizer.json (<unk>, <s>, </s> added).
    put("tokenizer_config", "ok-stories260K", (data / "tokenizer_config.json").read_bytes())
    put("tokenizer_config", "ok-token-objects", json.dumps(
        {"bos_token": {"content": "<s>", "lstrip": False}, "eos_token": {"content": "</s>"}, "pad_token": None}))
    put("tokenizer_config", "ok-empty-object", "{}")
    put("tokenizer_config", "bad-unknown-token", json.dumps({"bos_token": "<bos>"}))
    put("tokenizer_config", "bad-number-token", json.dumps({"eos_token": 2}))
    put("tokenizer_config", "bad-truncated", '{"bos_token": "<s>", "eos_')
    pair = {"query": "what is a cat", "positive": "a cat is a small animal", "id": 7}
    put("probe_pairs", "ok-two-pairs-and-blank-line",
        json.dumps(pair) + "\n\n" + json.dumps({"query": "x\u00e9", "positive": "y"}) + "\n")
    put("probe_pairs", "bad-missing-positive", json.dumps({"query": "q"}) + "\n")
    put("probe_pairs", "bad-positive-not-string", json.dumps({"query": "q", "positive": ["p"]}) + "\n")
    put("probe_pairs", "bad-not-an-object", "[1, 2]\n")
    put("probe_pairs", "bad-no-pair", "\n\n")
    put("moe_yaml", "ok-mixtral-prompts",
        "base_model: base\ngate_mode: hidden\nexperts_per_token: 1\nexperts:\n"
        "  - source_model: python\n    positive_prompts: [\"def f(x):\"]\n"
        "  - source_model: man\n    residual_scale: 0.5\n    positive_prompts: [\"NAME\"]\n"
        "    negative_prompts: [\"import\"]\n")
    put("moe_yaml", "ok-qwen-shared-expert",
        "base_model: base\narchitecture: qwen\ngate_mode: uniform_random\ndtype: bfloat16\nexperts:\n"
        "  - source_model: python\n  - source_model: man\nshared_experts:\n  - source_model: base\n")
    put("moe_yaml", "bad-no-experts", "base_model: base\ngate_mode: random\n")
    put("moe_yaml", "bad-unknown-gate-mode", "base_model: base\ngate_mode: sideways\nexperts:\n  - source_model: a\n")
    put("moe_yaml", "bad-hidden-gates-without-prompts", "base_model: base\nexperts:\n  - source_model: a\n")
    for case in sorted((ROOT / "tests" / "recipes").iterdir()):
        recipe = case / "recipe.yml"
        if recipe.is_file() and recipe.stat().st_size < 8192:
            prefix = "" if case.name.startswith("error_") else "ok-"
            put("recipe_yaml", prefix + case.name, recipe.read_bytes())
    torch_seeds()


if __name__ == "__main__":
    main()
