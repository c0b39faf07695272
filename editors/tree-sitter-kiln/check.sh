#!/usr/bin/env bash
# Tests the grammar: generates the parser from grammar.js, runs tree-sitter's own test runner
# (test/corpus: trees; test/highlight: queries/highlights.scm), then parses every .kiln file of
# the repository and fails on any ERROR or MISSING node. Needs the `tree-sitter` CLI and a C
# compiler (.ci/run installs the CLI with `cargo install tree-sitter-cli`).
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"
tree-sitter generate
tree-sitter test
mapfile -t files < <(cd "$repo" && git ls-files '*.kiln' | sed "s|^|$repo/|")
((${#files[@]} > 0)) || { echo "no .kiln files found" >&2; exit 1; }
# --quiet prints only the files whose tree has an ERROR or MISSING node; the exit code is 1 then.
if ! out="$(tree-sitter parse --quiet --stat "${files[@]}" 2>&1)"; then
  echo "$out" >&2
  echo "tree-sitter-kiln: some .kiln files do not parse without errors" >&2
  exit 1
fi
echo "$out" | tail -1
