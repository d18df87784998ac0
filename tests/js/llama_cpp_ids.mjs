// Writes the ids llama.cpp's own tokenizer gives the stories260K held-out texts (whole file, no BOS),
// the reference SentencePieceTokenizer's llama.cpp mode is tested against. Not run by the tests:
// it needs node-llama-cpp (llama.cpp's prebuilt library, large). Copy this file into a folder where
// `npm install node-llama-cpp@3.22.1` ran and run `node llama_cpp_ids.mjs <alloy checkout>`.
// Stored per file: the count, an FNV-1a 64 hash of the ids (each as 4 little-endian bytes) and the
// first 1000 ids, so a mismatch is both detected and located.
import { getLlama } from "node-llama-cpp";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? ".";
const gguf = join(root, "../shared/models/stories260K/gguf/base.gguf");
const texts = ["python.txt", "cheaders.txt", "man.txt", "stories.txt"];

function fnv1a64(ids) {
  let h = 0xcbf29ce484222325n;
  for (const id of ids)
    for (let b = 0; b < 4; ++b) {
      h ^= BigInt((id >>> (8 * b)) & 0xff);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  return h.toString(16).padStart(16, "0");
}

const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: gguf });
const out = {};
for (const name of texts) {
  const text = readFileSync(join(root, "tests/data/stories260K/eval", name), "utf8");
  const ids = Array.from(model.tokenize(text, false));
  out[name] = { count: ids.length, fnv1a64: fnv1a64(ids), head: ids.slice(0, 1000) };
}
writeFileSync(join(root, "src/tokenizer/testdata/stories260K_llama_cpp_ids.json"), JSON.stringify(out) + "\n");
