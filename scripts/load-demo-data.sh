#!/usr/bin/env bash
# Loads the demo data into the local D1 and MEDIA bucket (idempotent). Extra arguments (for example
# --persist-to DIR) are passed to every wrangler call.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true   # wrangler asks no questions
npx wrangler d1 migrations apply DB --local "$@"
npx wrangler d1 execute DB --local --file scripts/demo-data.sql "$@"

# MEDIA objects follow the key layout videos/<video_id>/{source,frames,cache}/…; the last two belong
# to no video (orphans for the cleanup policy). R2 puts are slow, so they run once per state folder.
state_dir=".wrangler/state"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--persist-to" ]; then next=$((i + 1)); state_dir="${!next}"; fi
done
marker="$state_dir/.demo-media-loaded"
if [ ! -f "$marker" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf 'demo video bytes\n' > "$tmp/video"
  printf '\xff\xd8\xff\xe0 demo frame\n' > "$tmp/frame"
  printf '{"embedding":[0.1,0.2,0.3]}\n' > "$tmp/cache"
  # One at a time: parallel puts into one local state folder can trip over each other's locks.
  {
    for id in demo-lecture-01 demo-old-upload demo-draft-cut; do
      echo "videos/$id/source/$id.mp4 video"
      echo "videos/$id/frames/000001.jpg frame"
    done
    echo "videos/demo-lecture-01/cache/embeddings.json cache"
    echo "videos/demo-vanished/frames/000001.jpg frame"
  } | while read -r key kind; do
    npx wrangler r2 object put "video-app-media/$key" --file "$tmp/$kind" --local "$@" > /dev/null
  done
  mkdir -p "$state_dir"
  touch "$marker"
fi
echo "demo data loaded" >&2
