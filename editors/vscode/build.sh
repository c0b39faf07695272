#!/usr/bin/env bash
# Builds kiln.vsix: installs the extension's dependencies from the npm registry (exact versions
# from package-lock.json when present) and packages with @vscode/vsce.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npx vsce package --out kiln.vsix
# The package holds what the extension needs at run time.
unzip -l kiln.vsix | grep -q 'extension/extension.js'
unzip -l kiln.vsix | grep -q 'extension/syntaxes/kiln.tmLanguage.json'
unzip -l kiln.vsix | grep -q 'extension/node_modules/vscode-languageclient/'
echo "built $(pwd)/kiln.vsix"
