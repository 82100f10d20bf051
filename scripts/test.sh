#!/usr/bin/env bash
# Set up (Python 3.12+ virtual environment, icetrack with its test tools) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
python -m pytest -q "$@"
