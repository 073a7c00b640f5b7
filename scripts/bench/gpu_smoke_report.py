"""The GPU smoke run's figures from its metrics.jsonl (scripts/gpu_smoke.sh), as one table, one column per step.

    python scripts/bench/gpu_smoke_report.py runs/gpu_smoke/metrics.jsonl --model MODEL_DIR [--peak-tflops X]

learner tokens/s: the update's tokens (prompt + response) per second (`perf/learner_tokens_per_s`). MFU: its
model FLOPs, 6 x parameters per token (forward + backward; tied embeddings count once, as the lm head matmul;
attention's quadratic term left out: small at these lengths), over the GPU's dense bf16 peak (looked up by name
or --peak-tflops). rollout tokens/s: generated tokens per rollout second. Peak memory per phase: the CUDA
allocator's peak (`perf/<phase>_gpu_peak_gb`, reset at each phase) and the process's resident set. Runs on a
CPU too (no GPU columns, no MFU) so the table can be checked anywhere.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

# dense bf16 tensor-core peaks (TFLOP/s, no sparsity), by a substring of torch.cuda.get_device_name()
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "H800": 989.0, "A100": 312.0, "A800": 312.0, "L40S": 362.0,
               "L40": 181.0, "A6000": 155.0, "A10": 125.0, "L4": 121.0, "4090": 165.0, "3090": 71.0, "V100": 125.0}
PHASES = ["rollout", "reward", "old_logprobs", "update", "weight_sync"]


def model_params(model_dir: Path) -> int:
    """Parameter count of the model's config (tied embeddings once), without loading weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())  # parameters() yields a tied weight once


def gpu_peak(name: Optional[str] = None) -> tuple[Optional[str], Optional[float]]:
    import torch

    if name is None and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
    if name is None:
        return None, None
    return name, next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def table(rows: list[dict], n_params: int, peak_tflops: Optional[float]) -> list[tuple[str, list[str]]]:
    def col(fn):
        out = []
        for r in rows:
            try:
                v = fn(r)
            except (KeyError, ZeroDivisionError, TypeError):
                v = None
            out.append("-" if v is None else v)
        return out

    lines = [
        ("step s", col(lambda r: f"{r['perf/step_s']:.1f}")),
        *[(f"{ph} s", col(lambda r, ph=ph: f"{r[f'perf/{ph}_s']:.2f}")) for ph in PHASES],
        ("rollout tokens", col(lambda r: f"{r['rollout/tokens']:.0f}")),
        ("rollout tokens/s", col(lambda r: f"{r['rollout/tokens'] / r['perf/rollout_s']:.0f}")),
        ("learner tokens/s", col(lambda r: f"{r['perf/learner_tokens_per_s']:.0f}")),
        ("learner TFLOP/s (6N)", col(lambda r: f"{6 * n_params * r['perf/learner_tokens_per_s'] / 1e12:.1f}")),
        ("learner MFU %", col(lambda r: f"{100 * 6 * n_params * r['perf/learner_tokens_per_s'] / (peak_tflops * 1e12):.1f}"
                             if peak_tflops else None)),
    ]
    for kind, label in (("gpu", "GPU alloc peak GB"), ("rss", "RSS peak GB")):
        for ph in PHASES:
            key = f"perf/{ph}_{kind}_peak_gb"
            if any(key in r for r in rows):
                lines.append((f"{ph} {label}", col(lambda r, key=key: f"{r[key]:.2f}")))
    lines.append(("policy/sampler_logprob_gap", col(lambda r: f"{r['policy/sampler_logprob_gap']:.4f}")))
    lines.append(("loss/skipped_steps", col(lambda r: f"{r['loss/skipped_steps']:.0f}")))
    return lines


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metrics", help="metrics.jsonl of the run")
    p.add_argument("--model", required=True, help="the model directory (for the parameter count)")
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the GPU (else looked up)")
    p.add_argument("--gpu-name", default=None, help="look the peak up for this name instead of the local GPU")
    p.add_argument("--engine", default="?")
    p.add_argument("--attn", default="?")
    args = p.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.metrics).read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"gpu_smoke_report: {args.metrics} has no steps")
    n = model_params(Path(args.model))
    name, peak = gpu_peak(args.gpu_name)
    peak = args.peak_tflops or peak
    print(f"\nmodel {args.model}: {n / 1e9:.3f}B parameters; device {name or 'cpu'}; dense bf16 peak "
          f"{f'{peak:.0f} TFLOP/s' if peak else 'unknown (pass --peak-tflops for MFU)'}; engine {args.engine}; "
          f"attention {args.attn}")
    lines = table(rows, n, peak)
    width = max(len(k) for k, _ in lines) + 2
    print("".ljust(width) + "".join(f"step {r['step']}".rjust(11) for r in rows))
    for k, vals in lines:
        print(k.ljust(width) + "".join(v.rjust(11) for v in vals))
    last = rows[-1]
    mfu = 6 * n * last.get("perf/learner_tokens_per_s", 0.0) / (peak * 1e12) if peak else float("nan")
    gpu = max((v for k, v in last.items() if k.endswith("_gpu_peak_gb")), default=float("nan"))
    print(f"smoke_ok=1 learner_tokens_per_s={last.get('perf/learner_tokens_per_s', float('nan')):.0f} "
          f"mfu={mfu:.3f} rollout_tokens_per_s="
          f"{last.get('rollout/tokens', 0.0) / max(last.get('perf/rollout_s', 0.0), 1e-9):.0f} "
          f"gpu_peak_gb={gpu:.2f}")


if __name__ == "__main__":
    main()
