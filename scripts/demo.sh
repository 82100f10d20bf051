#!/usr/bin/env bash
# Set up (Python 3.12+ virtual environment with icetrack) and serve the dashboard on the embedded demo glacier.
# Open http://localhost:${PORT:-5006}/ ; Ctrl-C stops the server. Works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec panel serve dashboard/app.py --port "${PORT:-5006}" --liveness \
    --setup dashboard/warmup.py --index app "$@"
