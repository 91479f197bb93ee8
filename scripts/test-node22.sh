#!/usr/bin/env bash
# Runs the test suite on Node 22 (installed from npm by scripts/node22.sh). better-sqlite3 is native: it is
# rebuilt for Node 22 first (the runtime package ships its headers) and for the machine's Node afterwards.
# NODE22_REBUILD=0 skips both rebuilds, for test files that never load better-sqlite3 (everything but the jobs
# store and the jobs tests): node_modules, shared by whoever else runs tests meanwhile, then stays untouched.
set -uo pipefail
cd "$(dirname "$0")/.."
node22="$(bash scripts/node22.sh)" || exit 1
rebuild="${NODE22_REBUILD:-1}"
if [ "$rebuild" != 0 ]; then
  PATH="$(dirname "$node22"):$PATH" npm_config_nodedir="$(dirname "$(dirname "$node22")")" npm rebuild better-sqlite3 >&2 || exit 1
fi
PATH="$(dirname "$node22"):$PATH" "$node22" node_modules/vitest/vitest.mjs run "$@"
status=$?
if [ "$rebuild" != 0 ]; then npm rebuild better-sqlite3 >&2 || status=1; fi
exit "$status"
