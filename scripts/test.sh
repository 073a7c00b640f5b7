#!/usr/bin/env bash
# Run the test suite (sets up .venv/ first). Extra arguments go to pytest, e.g.
#   scripts/test.sh -m "not slow"      # fast unit subset (~1 min)
#   scripts/test.sh tests/unit/test_config.py -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "${@:--q}"
