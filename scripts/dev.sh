#!/usr/bin/env bash
# npm run dev: local tokens, local migrations, demo data, then wrangler dev with the cron test route
# (/__scheduled?cron=…). Arguments are passed to wrangler dev (e.g. --port 8788).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .dev.vars ] || cp .dev.vars.example .dev.vars
bash scripts/load-demo-data.sh
exec npx wrangler dev --test-scheduled "$@"
