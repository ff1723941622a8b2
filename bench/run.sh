#!/usr/bin/env bash
# npm run bench [-- --scale X] [name …]: runs bench/<name>.bench.ts for each name given, or the four
# that have a floor (backups, archival, health, load), passing --scale to each; then prints the
# summary table and writes bench/results/summary.json from this run's results only.
# Needs sqlite3 and zstd (Debian: apt-get install sqlite3 zstd).
set -euo pipefail
cd "$(dirname "$0")/.."
scale_args=()
names=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --scale) scale_args=(--scale "$2"); shift 2 ;;
    --scale=*) scale_args=(--scale "${1#--scale=}"); shift ;;
    --*) echo "unknown flag $1 (known: --scale X)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ "${#names[@]}" -gt 0 ] || names=(backups archival health load)
for tool in sqlite3 zstd; do
  command -v "$tool" > /dev/null || { echo "npm run bench needs $tool (apt-get install $tool)" >&2; exit 2; }
done
started_ms=$(($(date +%s%N) / 1000000))
for name in "${names[@]}"; do
  file="bench/${name}.bench.ts"
  [ -f "$file" ] || { echo "no benchmark $file" >&2; exit 2; }
  echo "== $file ${scale_args[*]}" >&2
  npx tsx "$file" "${scale_args[@]}" > /dev/null
done
npx tsx bench/summary.ts --since "$started_ms"
