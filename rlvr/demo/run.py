"""The CPU demo, end to end: build the base policy -> evaluate -> RL under torchrun -> evaluate -> plot.

    scripts/demo.sh                     # = python -m rlvr.demo.run (after setting up .venv/)
    python -m rlvr.demo.run --out runs/demo [--nproc 2] [key=value ...]   # extra keys override the recipe

Held-out accuracy before and after is measured the same way, by `rlvr eval` on the held-out split (avg@k over k
samples per problem at the training temperature), and written to OUT/summary.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "demo_cpu.yaml"


def _run(cmd: list[str], log_path: Path) -> None:
    """Run a stage, streaming its output to the console and to a log file; fail loudly with the log's tail."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if not line.startswith(("[20", "Loading weights", "Writing model")) and "Warning" not in line:
                print("   " + line, end="", flush=True)
        if proc.wait():
            sys.exit(f"demo: stage failed ({' '.join(cmd[:6])} ...); see {log_path}")


def evaluate(model: Path, heldout: Path, out: Path, cfg) -> dict:
    """`rlvr eval` on the held-out split with the recipe's sampling settings; returns its results.json entry."""
    k = cfg.eval.n
    _run([sys.executable, "-m", "rlvr.cli", "eval", "--model", str(model), "--benchmarks", f"heldout={heldout}",
          "--n", str(k), "--temperature", str(cfg.eval.temperature), "--top-p", str(cfg.eval.top_p),
          "--max-tokens", str(cfg.eval.max_tokens or cfg.rollout.max_tokens), "--template", cfg.data.template,
          "--backend", "hf", "--seed", "1234", "--output", str(out)], out.with_suffix(".log"))
    return json.loads((out / "results.json").read_text())["benchmarks"]["heldout"]


def main(argv: Optional[list[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="run directory (summary.json, metrics, plots)")
    p.add_argument("--policy", default=".cache/demo/policy", help="where the base policy is built (cached)")
    p.add_argument("--nproc", type=int, default=2, help="torchrun ranks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", help="recipe overrides, key=value")
    a = p.parse_args(argv)

    from rlvr.config import load_config
    from rlvr.demo.policy import build_demo_policy

    out, t_start = (REPO / a.out).resolve(), time.time()
    out.mkdir(parents=True, exist_ok=True)
    print(f"[1/5] base policy -> {a.policy} (built once, then cached)", flush=True)
    t0 = time.time()
    policy = build_demo_policy(REPO / a.policy, seed=a.seed)
    build_s = time.time() - t0
    heldout, train_file = policy / "heldout.jsonl", policy / "train.jsonl"
    overrides = [f"output_dir={out}", f"model.path={policy}", f"data.train_files=[{train_file}]",
                 f"eval.benchmarks=[heldout={heldout}]", f"seed={a.seed}", *a.overrides]
    cfg = load_config(RECIPE, overrides)  # validate before spending minutes

    print("[2/5] held-out accuracy of the base policy", flush=True)
    before = evaluate(policy, heldout, out / "eval_before", cfg)

    print(f"[3/5] RL: torchrun --nproc_per_node {a.nproc} -m rlvr.train {RECIPE.relative_to(REPO)}", flush=True)
    t0 = time.time()
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(a.nproc), "--master_port", "29531",
          "-m", "rlvr.train", str(RECIPE), *overrides, "resume=never"], out / "train.log")
    train_s = time.time() - t0

    print("[4/5] held-out accuracy after RL", flush=True)
    from rlvr.checkpoint import latest

    final = latest(out)
    after = evaluate(final / "hf", heldout, out / "eval_after", cfg)

    metric = f"avg@{cfg.eval.n}"
    summary = {
        "metric": f"{metric} on {before['num_problems']} held-out problems (T={cfg.eval.temperature}, "
                  f"{cfg.eval.n} samples each; rlvr eval)",
        "before": before["metrics"][metric]["value"], "after": after["metrics"][metric]["value"],
        "pass@k_before": before["metrics"][f"pass@{cfg.eval.n}"]["value"],
        "pass@k_after": after["metrics"][f"pass@{cfg.eval.n}"]["value"],
        "train_minutes": train_s / 60, "policy_build_minutes": build_s / 60,
        "total_minutes": (time.time() - t_start) / 60, "steps": cfg.max_steps, "ranks": a.nproc,
        "checkpoint": str(final / "hf"),
    }
    summary["delta"] = summary["after"] - summary["before"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    print("[5/5] plots", flush=True)
    from rlvr import plot

    plot.main([str(out)])
    print(f"\nheld-out {metric}: before {summary['before']:.3f} -> after {summary['after']:.3f} "
          f"({summary['delta']:+.3f}); RL took {summary['train_minutes']:.1f} min; summary: {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
