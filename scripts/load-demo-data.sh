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
  {
    for id in demo-lecture-01 demo-street-cam demo-old-upload demo-duplicate-take demo-draft-cut; do
      echo "videos/$id/source/$id.mp4 video"
      echo "videos/$id/frames/000001.jpg frame"
      echo "videos/$id/cache/embeddings.json cache"
    done
    echo "videos/demo-vanished/frames/000001.jpg frame"
    echo "videos/demo-vanished/cache/embeddings.json cache"
  } | while read -r key kind; do
    echo "video-app-media/$key $tmp/$kind"
  done | xargs -P 2 -L 1 sh -c 'npx wrangler r2 object put "$0" --file "$1" --local '"$*"' > /dev/null'
  mkdir -p "$state_dir"
  touch "$marker"
fi
echo "demo data loaded" >&2
