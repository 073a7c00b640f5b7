#!/usr/bin/env bash
# GPU smoke test on ONE CUDA GPU with only torch + transformers preinstalled: installs what else rlvr needs
# from a folder of wheels (no index, no internet), builds a randomly initialised Qwen2.5-Math-1.5B-shaped model
# (rlvr/models/configs/qwen2.5-math-1.5b.json, locally trained tokenizer), trains it 3 steps through the real
# loop (bf16 learner, DeepSpeed ZeRO-2 over NCCL, HF rollout engine unless vLLM is installed) and prints
# learner tokens/s and MFU, rollout tokens/s and peak GPU memory per phase (scripts/bench/gpu_smoke_report.py).
#
#   scripts/gpu_smoke.sh --wheels DIR                 # DIR: deepspeed, math-verify, ... wheels (pip download)
#   scripts/gpu_smoke.sh --wheels DIR --engine vllm   # vLLM rollout (needs vllm installed or in DIR)
#   scripts/gpu_smoke.sh --cpu                        # rehearse all but the GPU: tiny model, gloo, fp32, HF
#                                                       # engine (what a GPU machine without vLLM runs)
#
# Options: --model NAME|tiny (default qwen2.5-math-1.5b), --steps N (3), --engine auto|hf|vllm (auto: vllm when
# importable, else hf), --attn sdpa|flash_attention_2|flex_attention (default: flash_attention_2 when flash_attn
# imports, else sdpa; the learner packs sequences only with the varlen kernels, padded micro-batches with sdpa),
# --peak-tflops X (the GPU's dense bf16 peak, for MFU; known GPUs are looked up), --out DIR, --python PY.
# Make the wheel folder on a machine with internet:
#   pip download -d wheels deepspeed "math-verify[antlr4_13_2]" pyyaml rich psutil datasets accelerate
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WHEELS="" MODEL="" STEPS=3 ENGINE=auto ATTN="" PEAK="" OUT=runs/gpu_smoke PY=${PYTHON:-python3}
CPU=0
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) WHEELS=${2:?--wheels needs a directory}; shift 2 ;;
    --model) MODEL=${2:?}; shift 2 ;;
    --steps) STEPS=${2:?}; shift 2 ;;
    --engine) ENGINE=${2:?}; shift 2 ;;
    --attn) ATTN=${2:?}; shift 2 ;;
    --peak-tflops) PEAK=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --python) PY=${2:?}; shift 2 ;;
    --cpu) CPU=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "gpu_smoke: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
done
if [ -z "$MODEL" ]; then if [ "$CPU" = 1 ]; then MODEL=tiny; else MODEL=qwen2.5-math-1.5b; fi; fi
if [ "$CPU" = 1 ] && [ "$ENGINE" = auto ]; then ENGINE=hf; fi
case "$ENGINE" in auto|hf|vllm) ;; *) echo "gpu_smoke: --engine must be auto, hf or vllm" >&2; exit 2 ;; esac
[[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || { echo "gpu_smoke: --steps must be a positive integer" >&2; exit 2; }
if [ -n "$WHEELS" ] && [ ! -d "$WHEELS" ]; then echo "gpu_smoke: no wheel directory $WHEELS" >&2; exit 2; fi
say() { echo "[gpu_smoke] $*"; }

# 1. the machine
"$PY" -c "import torch, transformers" 2>/dev/null || { echo "gpu_smoke: needs torch and transformers in $PY" >&2; exit 2; }
if [ "$CPU" = 0 ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "gpu_smoke: torch sees no CUDA GPU (use --cpu to rehearse on a CPU)" >&2; exit 2; }
  "$PY" -c "import torch; p = torch.cuda.get_device_properties(0); print(f'[gpu_smoke] GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__} (CUDA {torch.version.cuda})')"
fi

# 2. what else rlvr needs, from the wheel folder only (already-installed packages are left as they are)
need=()
for spec in "deepspeed:deepspeed" "math_verify:math-verify[antlr4_13_2]" "yaml:pyyaml" "rich:rich" "psutil:psutil" \
            "datasets:datasets" "accelerate:accelerate"; do
  mod=${spec%%:*} pkg=${spec#*:}
  "$PY" -c "import $mod" 2>/dev/null || need+=("$pkg")
done
if [ "$ENGINE" = vllm ] && ! "$PY" -c "import vllm" 2>/dev/null; then need+=(vllm); fi
if [ ${#need[@]} -gt 0 ]; then
  [ -n "$WHEELS" ] || { echo "gpu_smoke: missing ${need[*]}; pass --wheels DIR holding their wheels" >&2; exit 2; }
  say "installing from $WHEELS: ${need[*]}"
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" "${need[@]}"
fi
if [ "$ENGINE" = auto ]; then
  if "$PY" -c "import vllm" 2>/dev/null; then ENGINE=vllm; else ENGINE=hf; fi
fi
if [ -z "$ATTN" ]; then
  if "$PY" -c "import flash_attn" 2>/dev/null; then ATTN=flash_attention_2; else ATTN=sdpa; fi
fi
[ "$CPU" = 1 ] && ATTN=sdpa
say "engine=$ENGINE attn=$ATTN model=$MODEL steps=$STEPS"

# 3. the model: random weights, real shape (cached under .cache/)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
if [ "$MODEL" = tiny ]; then
  MODEL_DIR=$("$PY" -m rlvr.models.tiny .cache/test-models/tiny-qwen2 | tail -1)
else
  MODEL_DIR=$("$PY" -m rlvr.models.tiny ".cache/$MODEL-random" --config "$MODEL" | tail -1)
fi
say "model: $MODEL_DIR"

# 4. three steps of the real loop on one rank (torchrun: DeepSpeed initialises NCCL, gloo with --cpu)
if [ "$CPU" = 1 ]; then DTYPE=fp32; else DTYPE=bf16; fi
rm -rf "$OUT"
overrides=(
  "model.path=$MODEL_DIR" "output_dir=$OUT" "max_steps=$STEPS" "model.dtype=$DTYPE" "model.attn_implementation=$ATTN"
  "learner.zero_stage=2" "learner.packing=true" "learner.micro_batch_tokens=8192" "rollout.backend=$ENGINE"
  "rollout.num_prompts=16" "rollout.group_size=8" "rollout.max_tokens=256" "rollout.batch_size=128"
  "rollout.max_model_len=1024" "rollout.gpu_memory_utilization=0.3" "algorithm.regularizers=[]"
  "checkpoint.export_hf=false" "checkpoint.checksum=false" "logging.tensorboard=false" "data.max_prompt_len=512"
)
if [ "$CPU" = 1 ]; then
  overrides+=("rollout.num_prompts=4" "rollout.group_size=4" "rollout.max_tokens=32")
fi
say "training: torchrun --nproc_per_node 1 -m rlvr.train recipes/tiny/grpo.yaml ${overrides[*]}"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} "$PY" -m torch.distributed.run --nproc_per_node 1 --master_port 29899 \
  -m rlvr.train recipes/tiny/grpo.yaml "${overrides[@]}"

# 5. the figures
report=("$OUT/metrics.jsonl" --model "$MODEL_DIR" --engine "$ENGINE" --attn "$ATTN")
[ -n "$PEAK" ] && report+=(--peak-tflops "$PEAK")
"$PY" scripts/bench/gpu_smoke_report.py "${report[@]}"
