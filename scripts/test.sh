#!/usr/bin/env bash
# Set up (Python 3.12+ virtual environment, icetrack with its test tools, Debian's Chromium for the browser tests
# where root and apt-get allow) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/chromium.sh
python -m pytest -q "$@"
