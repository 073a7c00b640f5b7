#!/usr/bin/env bash
# The CPU demo end to end (sets up .venv/ first): build a tiny base policy, RL-train it with DAPO under
# torchrun (2 ranks, DeepSpeed + gloo), evaluate before/after on held-out problems, plot.
#   scripts/demo.sh                       # writes runs/demo/{summary.json,metrics.jsonl,*.png}
#   scripts/demo.sh --out runs/demo2 max_steps=40 learner.lr=2e-4
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m rlvr.demo.run "$@"
