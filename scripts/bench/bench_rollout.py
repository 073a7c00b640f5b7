"""Rollout engine benchmark: start time, tokens/s and sampler-vs-learner log-prob gap, HF vs vLLM.

    python scripts/bench/bench_rollout.py [--model DIR] [--prompts 8] [--group-size 4] [--max-tokens 64]
                                          [--backends hf vllm:float32 vllm:bfloat16]

Every backend gets the same prompts (first N GSM8K training problems), G, max_tokens, temperature and seed.
Each engine runs in its own subprocess (one vLLM engine per process). The gap is max / mean |sampler log-prob -
transformers fp32 log_softmax(logits / T)| over all sampled tokens; for vLLM it is measured before and after a
weight sync of a perturbed model (learner fp32 -> engine dtype), which also times the sync.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def prompts(n: int):
    from rlvr.data import load_rows
    from rlvr.types import Prompt

    rows = load_rows("gsm8k_train", limit=n)
    return [Prompt(id=str(i), text=f"Question: {r['problem']}\nAnswer:", answer=str(r["answer"])) for i, r in enumerate(rows)]


def gap(groups, model, tokenizer, temperature: float) -> tuple[float, float]:
    import torch

    diffs = []
    for g in groups:
        ids = tokenizer(g.prompt.text, add_special_tokens=False)["input_ids"]
        for r in g.rollouts:
            with torch.no_grad():
                logits = model(torch.tensor([ids + r.response_ids])).logits[0, len(ids) - 1:-1].float()  # [L, V]
            lp = torch.log_softmax(logits / temperature, -1).gather(-1, torch.tensor(r.response_ids)[:, None])[:, 0]
            diffs.append((torch.tensor(r.sampler_logprobs) - lp).abs())
    d = torch.cat(diffs)
    return d.max().item(), d.mean().item()


def run_one(spec: str, a) -> dict:
    """Benchmark one backend spec ("hf" or "vllm:<dtype>") in this process."""
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr.config import Config
    from rlvr.rollout import SamplingParams, make_engine, sync_weights

    backend, _, dtype = spec.partition(":")
    cfg = Config()
    cfg.model.path, cfg.rollout.backend, cfg.rollout.batch_size = a.model, backend, a.prompts * a.group_size
    cfg.rollout.max_model_len = 1024
    if dtype:
        cfg.rollout.dtype = dtype
    t0 = time.perf_counter()
    engine = make_engine(cfg)
    start_s = time.perf_counter() - t0
    ps, sp = prompts(a.prompts), SamplingParams(temperature=a.temperature, max_tokens=a.max_tokens, seed=0)
    engine.generate(ps[:1], 1, SamplingParams(max_tokens=4, seed=0))  # warm-up (first-call compilation)
    t0 = time.perf_counter()
    groups = engine.generate(ps, a.group_size, sp)
    gen_s = time.perf_counter() - t0
    tokens = sum(len(r.response_ids) for g in groups for r in g.rollouts)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    out = {"backend": spec, "start_s": round(start_s, 1), "gen_s": round(gen_s, 2), "tokens": tokens,
           "tokens_per_s": round(tokens / gen_s, 1), "gap_max_mean": [float(f"{x:.3e}") for x in gap(groups, model, engine.tokenizer, a.temperature)]}
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    t0 = time.perf_counter()
    sync_weights(engine, [list(model.named_parameters())])
    out["sync_s"] = round(time.perf_counter() - t0, 3)
    after = engine.generate(ps[:2], a.group_size, sp)
    out["gap_after_sync_max_mean"] = [float(f"{x:.3e}") for x in gap(after, model, engine.tokenizer, a.temperature)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="HF model dir (default: build/reuse the tiny Qwen2 under .cache/)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--backends", nargs="+", default=["hf", "vllm:float32", "vllm:bfloat16"])
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)  # internal: run one spec, print JSON
    a = p.parse_args()
    if a.model is None:
        from rlvr.models.tiny import build_tiny_model

        a.model = str(build_tiny_model(REPO / ".cache" / "test-models" / "tiny-qwen2"))
    if a.only:
        print("RESULT " + json.dumps(run_one(a.only, a)), flush=True)
        return
    print(f"model={a.model} prompts={a.prompts} G={a.group_size} max_tokens={a.max_tokens} T={a.temperature}")
    print(f"{'backend':<16}{'start_s':>9}{'tokens':>8}{'tok/s':>9}{'gap max':>11}{'gap mean':>11}{'sync_s':>8}{'gap max after sync':>20}")
    for spec in a.backends:
        args = [sys.executable, __file__, "--only", spec, "--model", a.model, "--prompts", str(a.prompts),
                "--group-size", str(a.group_size), "--max-tokens", str(a.max_tokens), "--temperature", str(a.temperature)]
        proc = subprocess.run(args, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{spec:<16} FAILED\n{proc.stderr[-3000:]}")
            continue
        r = json.loads(line[len("RESULT "):])
        print(f"{spec:<16}{r['start_s']:>9}{r['tokens']:>8}{r['tokens_per_s']:>9}{r['gap_max_mean'][0]:>11.2e}"
              f"{r['gap_max_mean'][1]:>11.2e}{r['sync_s']:>8}{r['gap_after_sync_max_mean'][0]:>20.2e}", flush=True)


if __name__ == "__main__":
    main()
