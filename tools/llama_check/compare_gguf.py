#!/usr/bin/env python3
# Compares two GGUF files with llama.cpp's own reader (gguf-py's GGUFReader): every tensor's name,
# ggml type, shape and bytes, and every metadata value. Used to set alloy's GGUF output beside
# llama.cpp's converter output of the same merge (docs/gguf.md, "make llama-check").
# Usage: PYTHONPATH=LLAMA_CPP/gguf-py python3 compare_gguf.py ALLOY.gguf REFERENCE.gguf
import sys

from gguf import GGUFReader, GGUFValueType


def value(field):
    if field.types[0] == GGUFValueType.ARRAY:
        if field.types[-1] == GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]
        return [bytes(field.parts[i]).hex() for i in field.data]
    if field.types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    return field.parts[field.data[0]].tolist()


def main(mine_path, ref_path):
    mine, ref = GGUFReader(mine_path), GGUFReader(ref_path)
    tm = {t.name: t for t in mine.tensors}
    tr = {t.name: t for t in ref.tensors}
    print(f"tensors: {len(tm)} and {len(tr)}; names only in one: {sorted(set(tm) ^ set(tr))}")
    differ = [n for n in sorted(set(tm) & set(tr))
              if tm[n].tensor_type != tr[n].tensor_type or list(tm[n].shape) != list(tr[n].shape)
              or tm[n].data.tobytes() != tr[n].data.tobytes()]
    for n in differ:
        print(f"  {n}: {tm[n].tensor_type.name} {list(tm[n].shape)} against {tr[n].tensor_type.name} {list(tr[n].shape)}")
    print(f"tensors with another type, shape or bytes: {len(differ)}")
    km = [k for k in mine.fields if not k.startswith("GGUF.")]
    kr = [k for k in ref.fields if not k.startswith("GGUF.")]
    print("keys only in the first:", [k for k in km if k not in ref.fields])
    print("keys only in the second:", [k for k in kr if k not in mine.fields])
    print("keys with other values:", [k for k in km if k in ref.fields and value(mine.fields[k]) != value(ref.fields[k])])
    return 1 if differ or set(tm) != set(tr) else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare_gguf.py ALLOY.gguf REFERENCE.gguf")
    sys.exit(main(sys.argv[1], sys.argv[2]))
