#!/usr/bin/env bash
# npm run bench [-- name …]: runs bench/<name>.bench.ts for each name given, or every benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=(); for name in "$@"; do files+=("bench/${name}.bench.ts"); done
else files=(bench/*.bench.ts); fi
for file in "${files[@]}"; do
  [ -f "$file" ] || { echo "no benchmark $file" >&2; exit 2; }
  echo "== $file" >&2
  npx tsx "$file"
done
