#!/usr/bin/env bash
# The MCP conformance suite (@modelcontextprotocol/conformance 0.1.13, server mode) against
# `vast-mcp serve --sandbox` on loopback without authentication (the suite's DNS-rebinding checks
# apply to exactly that kind of server). Scenarios that call the suite's own fixture tools, prompts
# and resources are listed in scripts/conformance-baseline.yml as expected failures: the suite exits 1
# on any other failure, and also when a listed scenario starts passing (stale baseline).
# Results: docs/conformance.md. Usage: bash scripts/conformance.sh [--scenario NAME] (after npm run build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$root/dist/server/main.js" ] || { echo "run npm run build first" >&2; exit 2; }
work="$(mktemp -d)"
node "$root/dist/server/main.js" serve --sandbox --port 0 --log-level warn >"$work/stdout" 2>"$work/stderr" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
url=""
for _ in $(seq 1 300); do
  url="$(sed -n 's/^listening on //p' "$work/stdout")"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "vast-mcp serve did not start:" >&2
  cat "$work/stderr" >&2
  exit 1
fi
cd "$work" # the suite may write a results/ directory into the working directory
"$root/node_modules/.bin/conformance" server --url "$url" --expected-failures "$root/scripts/conformance-baseline.yml" "$@"
