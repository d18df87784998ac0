// Prints the ids Hugging Face tokenizers.js (the tokenizers of transformers.js) gives each text,
// as one JSON array of arrays, no special tokens added.
// Usage: node reference_ids.mjs <dir with tokenizer.json and tokenizer_config.json> <texts.json>
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, textsFile] = process.argv.slice(2);
const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
const tokenizer = new Tokenizer(json, config);
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
const ids = texts.map((text) => tokenizer.encode(text, { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify(ids) + "\n");
