#!/usr/bin/env python3
"""Writes the hand-built seeds of tests/corpus/ (safetensors, index, GGUF), encoding each format
from its specification with struct and json only, and copies the small real files of the test
data (configs, SentencePiece model, recipes). Run from the repository root; the output is
committed, so this only needs re-running when a seed is added."""
import json
import pathlib
import shutil
import struct

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

    data = ROOT / "tests" / "data" / "stories260K" / "base"
    put("config_json", "ok-stories260K", (data / "config.json").read_bytes())
    put("sentencepiece_model", "ok-stories260K", (data / "tokenizer.model").read_bytes())
    for case in sorted((ROOT / "tests" / "recipes").iterdir()):
        recipe = case / "recipe.yml"
        if recipe.is_file() and recipe.stat().st_size < 8192:
            prefix = "" if case.name.startswith("error_") else "ok-"
            put("recipe_yaml", prefix + case.name, recipe.read_bytes())


if __name__ == "__main__":
    main()
