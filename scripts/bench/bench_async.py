"""Colocated synchronous vs split asynchronous training on the demo task, side by side in one run (2 processes).

    python scripts/bench/bench_async.py [--steps 60] [--out runs/bench_async]

The same base policy (the demo's, rlvr/demo), data, recipe (recipes/demo_cpu.yaml: DAPO, 16 prompts x 8, up to
48 tokens: responses are long-tailed, up to 4x the mean) and number of trained samples for each of:
  sync   torchrun --nproc_per_node 2, colocated: both ranks generate, then both train
  k=1    torchrun --nproc_per_node 2, rollout.placement=split: rank 0 generates, rank 1 trains, 1 version stale
  k=2    the same, 2 versions stale
plus AReaL's decoupled weight for the async runs. Prints samples/s (trained samples over the summed step
times, step 1 — start-up — left out), each role's idle fraction, held-out avg@8 of the final checkpoint (rlvr eval, 200 problems), and as the
last line `async_over_sync_samples_per_s=X.XX acc_sync=A acc_async=B` (async = k=1). On two CPU cores there is
little idle time for asynchrony to remove (both ranks are busy in both placements), so the script also prints a
clearly labelled projection for 8 GPUs (4 rollout + 4 learner vs 8 colocated) from the measured phase times.
Run time here: ~10 min (+2.5 min the first time, to build the demo policy).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "demo_cpu.yaml"
RUNS = {"sync": [], "k=1": ["rollout.placement=split", "rollout.ranks=1", "async.max_staleness=1",
                             "algorithm.weights=[decoupled]"],
        "k=2": ["rollout.placement=split", "rollout.ranks=1", "async.max_staleness=2",
                "algorithm.weights=[decoupled]"]}


def train(name: str, extra: list[str], base: list[str], out: Path) -> dict:
    run = out / name.replace("=", "")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
           str(29540 + len(name) + int(time.time()) % 50), "-m", "rlvr.train", str(RECIPE), *base, *extra,
           f"output_dir={run}", "resume=never"]
    t0 = time.time()
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    with open(out / f"{run.name}.log", "w") as log:
        if subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT).returncode:
            sys.exit(f"bench_async: run {name} failed; see {out / (run.name + '.log')}")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {"dir": run, "rows": rows, "wall_s": time.time() - t0}


def summarize(rows: list[dict], per_step: int) -> dict:
    """Steady state: step 1 (engine start-up, verifier pool, the rollout rank's first batch) is left out."""
    rows = rows[1:]
    mean = lambda k: sum(r.get(k) or 0.0 for r in rows) / len(rows)  # noqa: E731
    step_s = sum(r["perf/step_s"] for r in rows)
    return {"samples_per_s": per_step * len(rows) / step_s, "step_s": step_s / len(rows),
            "rollout_idle": mean("async/rollout_idle_frac"), "learner_idle": mean("async/learner_idle_frac"),
            "gen_s": mean("perf/rollout_s") + mean("perf/reward_s"),
            "train_s": mean("perf/old_logprobs_s") + mean("perf/update_s") + mean("perf/weight_sync_s"),
            "len_mean": mean("rollout/response_len_mean"), "len_max": max(r["rollout/response_len_max"] for r in rows),
            "staleness": mean("async/staleness_mean")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60, help=">= 2 (step 1 is start-up and not timed)")
    p.add_argument("--out", default="runs/bench_async")
    p.add_argument("--policy", default=".cache/demo/policy")
    a = p.parse_args()
    from rlvr.config import load_config
    from rlvr.demo.policy import build_demo_policy
    from rlvr.demo.run import evaluate

    out = (REPO / a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    policy = build_demo_policy(REPO / a.policy)
    heldout = policy / "heldout.jsonl"
    base = [f"model.path={policy}", f"data.train_files=[{policy / 'train.jsonl'}]", f"max_steps={a.steps}",
            "eval.every=0", "logging.tensorboard=false", "logging.console=false", "checkpoint.save_every=0"]
    cfg = load_config(RECIPE, base)
    per_step = cfg.rollout.num_prompts * cfg.rollout.group_size
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {a.steps} steps x "
          f"{per_step} samples per run", flush=True)
    res = {}
    for name, extra in RUNS.items():
        r = train(name, extra, base, out)
        from rlvr.checkpoint import latest

        ev = evaluate(latest(r["dir"]) / "hf", heldout, out / f"eval_{r['dir'].name}", cfg)
        res[name] = {**summarize(r["rows"], per_step), "acc": ev["metrics"]["avg@8"]["value"]}
        s = res[name]
        print(f"{name:>5}: {s['samples_per_s']:6.1f} samples/s  step {s['step_s']:.2f} s  "
              f"idle rollout {s['rollout_idle']:.2f} learner {s['learner_idle']:.2f}  staleness {s['staleness']:.2f}"
              f"  held-out avg@8 {s['acc']:.3f}  (len mean {s['len_mean']:.1f} max {s['len_max']:.0f})", flush=True)
    sync = res["sync"]
    # Projection (a model, not a measurement): on GPUs decoding is memory-bound, so a decode step costs about the
    # same for 1/8 or 1/4 of the batch, while training scales with the tokens. Colocated 8: every GPU generates
    # B/8 (time G) then trains B/8 (time U); split 4 + 4 overlaps them: rollout GPUs take G, learner GPUs 2U.
    g, u = sync["gen_s"], sync["train_s"]
    proj = (g + u) / max(g, 2 * u)
    print(f"PROJECTION (model of the measured phase times, not measured): 8 GPUs, 4 rollout + 4 learner vs 8 "
          f"colocated: (G + U) / max(G, 2U) with G = {g:.2f} s generation, U = {u:.2f} s training per step "
          f"-> {proj:.2f}x samples/s; this ignores the long tail, which split placement with partial rollouts "
          f"also hides (responses here: max {sync['len_max']:.0f} vs mean {sync['len_mean']:.1f} tokens)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    k1 = res["k=1"]
    print(f"async_over_sync_samples_per_s={k1['samples_per_s'] / sync['samples_per_s']:.2f} "
          f"acc_sync={sync['acc']:.3f} acc_async={k1['acc']:.3f}")


if __name__ == "__main__":
    main()
