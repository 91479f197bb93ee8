#!/usr/bin/env bash
# Installs a Node 22 LTS runtime from the npm registry (the platform package behind npm's `node` package, which
# carries the binary itself and runs no install script) under .cache/node22, and prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${NODE22_DIR:-$PWD/.cache/node22}"
pkg="node-$(node -p process.platform)-$(node -p process.arch)"
bin="$dir/node_modules/$pkg/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"node22-runtime","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "$pkg@22" >&2
fi
"$bin" -e 'if (process.versions.node.split(".")[0] !== "22") process.exit(1)'
echo "$bin"
