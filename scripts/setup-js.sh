#!/usr/bin/env bash
# Installs the node reference tokenizer (tests/js, pinned by its package-lock) that the tokenizer
# tests compare with. Optional: without node, npm or network the tests that need it skip, saying why.
cd "$(dirname "$0")/../tests/js" || exit 0
[ -d node_modules/@huggingface/tokenizers ] && [ -d node_modules/@huggingface/jinja ] && exit 0
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "setup-js: node/npm not found; the tokenizer.json reference tests will skip"
  exit 0
fi
echo "setup-js: installing the reference tokenizer (npm ci in tests/js)"
npm ci --no-audit --no-fund --loglevel=error > /dev/null 2>&1 ||
  echo "setup-js: npm ci failed (offline?); the tokenizer.json reference tests will skip"
exit 0
