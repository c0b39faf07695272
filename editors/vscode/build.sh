#!/usr/bin/env bash
# Builds kiln.vsix: installs the extension's dependencies from the npm registry (exact versions
# from package-lock.json when present) and packages with @vscode/vsce.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npx vsce package --out kiln.vsix
# The package holds what the extension needs at run time. The listing is read whole (not piped
# into `grep -q`, which stops early and, under pipefail, fails the script with SIGPIPE).
listing="$(unzip -Z1 kiln.vsix)"
for entry in extension/extension.js extension/syntaxes/kiln.tmLanguage.json \
  extension/node_modules/vscode-languageclient/; do
  grep -qF "$entry" <<<"$listing" || {
    echo "ERROR: kiln.vsix lacks $entry" >&2
    exit 1
  }
done
echo "built $(pwd)/kiln.vsix"
