"""Benchmark runner shared by `rlvr eval` and the trainer's periodic eval.

    prompts (bundled benchmark or any file / hub id) --rank shard--> engine.generate(n samples each)
        --> math verifier (verdict + extracted answer) --gather_object--> rank 0: metrics (pass@k, avg@n, maj@k)

Every rank evaluates `prompts[rank::world_size]`; rank 0 gathers the sample records, scores them, and the
flat metrics are broadcast so every rank returns the same dict (the trainer averages metrics over ranks).

Reproducibility: the engines derive each prompt's seed from (seed, position in the generate call), so the same
seed, backend, world size and settings give the same samples; a different world size reshards the problems
and so changes which seed a problem gets (the metrics' expectation does not change).
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from rlvr.checkpoint import sha256_file
from rlvr.config import Config, EvalConfig
from rlvr.data.load import BENCHMARKS, benchmark_path, load_rows, rows_to_prompts
from rlvr.eval.metrics import length_stats, score_problems
from rlvr.types import Prompt


def default_ks(n: int) -> list[int]:
    """1, the powers of 4 below n, and n (n=16 -> [1, 4, 16]; n=8 -> [1, 4, 8])."""
    ks, k = {1, n}, 4
    while k < n:
        ks.add(k)
        k *= 4
    return sorted(ks)


@dataclass
class EvalSettings:
    """Everything that decides the samples and the scores; written verbatim into results.json."""

    benchmarks: list[str] = field(default_factory=lambda: ["math500"])  # bundled names, paths or hub ids (name=src ok)
    n: int = 4  # samples per problem
    ks: list[int] = field(default_factory=list)  # pass@k / maj@k; empty = default_ks(n)
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = -1
    max_tokens: int = 1024
    template: str = "qwen_math"
    seed: int = 0
    limit: Optional[int] = None  # first K problems of each benchmark
    prompt_key: str = "problem"
    answer_key: Optional[str] = None  # None = benchmark default
    split: str = "test"  # split for hub ids
    timeout_s: float = 5.0  # verifier deadline per sample
    workers: int = 2  # verifier processes

    def __post_init__(self) -> None:
        self.ks = sorted({k for k in (self.ks or default_ks(self.n)) if 1 <= k <= self.n}) or [1]

    @classmethod
    def from_config(cls, cfg: Config | EvalConfig, **defaults: Any) -> "EvalSettings":
        """From the run config (template / max_tokens / seed default to data / rollout / run values) or from an
        EvalConfig plus keyword defaults."""
        if isinstance(cfg, Config):
            defaults = {"template": cfg.data.template, "max_tokens": cfg.rollout.max_tokens, "seed": cfg.seed,
                        "timeout_s": cfg.reward.timeout_s, "workers": cfg.reward.workers, **defaults}
            cfg = cfg.eval
        e = cfg
        pick = lambda v, k: defaults.get(k, getattr(cls, k, None)) if v is None else v  # noqa: E731
        return cls(benchmarks=list(e.benchmarks), n=e.n, ks=list(e.ks), temperature=e.temperature, top_p=e.top_p,
                   top_k=e.top_k, max_tokens=pick(e.max_tokens, "max_tokens"), template=pick(e.template, "template"),
                   seed=pick(e.seed, "seed"), limit=e.limit, prompt_key=e.prompt_key, answer_key=e.answer_key,
                   timeout_s=defaults.get("timeout_s", 5.0), workers=defaults.get("workers", 2))

    def sampling(self) -> Any:
        from rlvr.rollout import SamplingParams

        return SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              max_tokens=self.max_tokens, seed=self.seed)


@dataclass
class Benchmark:
    name: str  # key in results / metric names
    source: str  # file path or hub id
    sha256: Optional[str]  # of the data file (None for hub ids)
    answer_keys: tuple[str, ...]
    prompts: list[Prompt]


def load_benchmark(spec: str, tokenizer: Any, s: EvalSettings) -> Benchmark:
    """`spec` is a bundled name (aime24, ..., minerva), `NAME=SOURCE`, a JSONL/parquet path or a hub id."""
    name, _, src = spec.partition("=") if "=" in spec else ("", "", spec)
    if src in BENCHMARKS:
        name, path, keys = name or src, benchmark_path(src), BENCHMARKS[src][1]
        source = str(path)
    else:
        path = Path(src).expanduser()
        source, keys = src, ("answer",)
        name = name or (path.stem if path.exists() else src.replace("/", "_"))
    if s.answer_key:
        keys = (s.answer_key,)
    rows = load_rows(source, split=s.split, limit=s.limit)
    prompts = rows_to_prompts(rows, tokenizer, prompt_key=s.prompt_key, answer_key=keys, template=s.template)
    for i, p in enumerate(prompts):
        p.meta["index"] = i  # position in the benchmark: the order results are gathered back into
    sha = sha256_file(Path(source)) if Path(source).is_file() else None
    return Benchmark(name, source, sha, keys, prompts)


# ----------------------------------------------------------------------------------------------- one benchmark


def sample_records(bench: Benchmark, engine: Any, s: EvalSettings, rank: int, world_size: int) -> tuple[list[dict], dict]:
    """Generate and verify this rank's shard; one record per sample, plus this rank's timings."""
    from rlvr.rewards import verify_math_batch

    shard = bench.prompts[rank::world_size]
    t0 = time.perf_counter()
    # called even with an empty shard: with tensor parallelism generate() is collective inside a TP group
    groups = engine.generate(shard, s.n, s.sampling())
    t1 = time.perf_counter()
    flat = [(g, j, r) for g in groups for j, r in enumerate(g.rollouts)]
    verdicts = verify_math_batch([r.response_text for _, _, r in flat], [g.prompt.answer for g, _, _ in flat],
                                 timeout_s=s.timeout_s, workers=s.workers,
                                 truncated=[r.truncated for _, _, r in flat]) if flat else []
    t2 = time.perf_counter()
    records = [
        {"benchmark": bench.name, "problem_id": g.prompt.id, "problem_index": g.prompt.meta["index"],
         "sample_index": j, "gold": g.prompt.answer, "response": r.response_text, "extracted": v.extracted,
         "correct": bool(v.correct), "score": float(v.score), "status": v.status, "length": len(r.response_ids),
         "finish_reason": r.finish_reason}
        for (g, j, r), v in zip(flat, verdicts)
    ]
    return records, {"generate_s": t1 - t0, "verify_s": t2 - t1}


def _gather(obj: Any, rank: int, world_size: int) -> list[Any]:
    """All ranks' objects on rank 0 (a one-element list elsewhere / when not distributed)."""
    if world_size == 1:
        return [obj]
    import torch.distributed as dist

    out = [None] * world_size if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out if rank == 0 else [obj]


def _broadcast(obj: Any, world_size: int) -> Any:
    if world_size == 1:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def summarize(bench: Benchmark, records: list[dict], s: EvalSettings, timing: dict) -> dict:
    """results.json entry of one benchmark from all its sample records (rank 0)."""
    from rlvr.rewards import math_equivalent_batch

    records.sort(key=lambda r: (r["problem_index"], r["sample_index"]))
    by_problem: dict[int, list[dict]] = {}
    for r in records:
        by_problem.setdefault(r["problem_index"], []).append(r)
    problems = list(by_problem.values())
    equivalent = functools.partial(math_equivalent_batch, timeout_s=s.timeout_s, workers=s.workers)
    metrics = score_problems([[r["correct"] for r in p] for p in problems],
                             [[r["extracted"] for r in p] for p in problems], s.ks, equivalent, seed=s.seed)
    samples = len(records)
    return {
        "source": bench.source, "sha256": bench.sha256, "answer_keys": list(bench.answer_keys),
        "num_problems": len(problems), "n": s.n, "ks": s.ks,
        "metrics": metrics,
        "lengths": length_stats([r["length"] for r in records], [r["finish_reason"] == "length" for r in records]),
        "no_answer_rate": sum(r["extracted"] is None for r in records) / max(samples, 1),
        "timing": {**timing, "samples": samples, "s_per_100_samples": 100 * timing["total_s"] / max(samples, 1),
                   "response_tokens_per_s": sum(r["length"] for r in records) / max(timing["total_s"], 1e-9)},
    }


def flat_metrics(results: dict[str, dict]) -> dict[str, float]:
    """results -> {"eval/<benchmark>/<metric>": value} for the trainer's logger."""
    out = {}
    for name, res in results.items():
        for metric, v in res["metrics"].items():
            out[f"eval/{name}/{metric}"] = v["value"]
        out[f"eval/{name}/response_len"] = res["lengths"]["mean"]
        out[f"eval/{name}/truncation_rate"] = res["lengths"]["truncation_rate"]
    return out


def evaluate(engine: Any, tokenizer: Any, s: EvalSettings, *, rank: int = 0, world_size: int = 1,
             samples_path: Optional[str | Path] = None) -> dict[str, dict]:
    """Run every benchmark; rank 0 gets {name: summary} (other ranks {}); rank 0 writes samples.jsonl if asked."""
    import json

    results: dict[str, dict] = {}
    out = open(samples_path, "w", encoding="utf-8") if samples_path and rank == 0 else None
    try:
        for spec in s.benchmarks:
            bench = load_benchmark(spec, tokenizer, s)
            t0 = time.perf_counter()
            records, timing = sample_records(bench, engine, s, rank, world_size)
            gathered = _gather((records, timing), rank, world_size)
            if rank != 0:
                continue
            all_records = sorted((r for recs, _ in gathered for r in recs),
                                 key=lambda r: (r["problem_index"], r["sample_index"]))
            timing = {k: max(t[k] for _, t in gathered) for k in timing}  # slowest rank bounds the wall time
            timing["total_s"] = time.perf_counter() - t0
            results[bench.name] = summarize(bench, all_records, s, timing)
            results[bench.name]["sampling"] = {k: v for k, v in asdict(s).items() if k != "benchmarks"}
            if out:
                for r in all_records:
                    out.write(json.dumps(r, ensure_ascii=False) + "\n")
    finally:
        if out:
            out.close()
    return results


def run_eval(engine: Any, tokenizer: Any, cfg: Config | EvalConfig, *, rank: int = 0, world_size: int = 1,
             samples_path: Optional[str | Path] = None, **defaults: Any) -> dict[str, float]:
    """The trainer's periodic eval: `eval/<benchmark>/<metric>` (same on every rank).

    `cfg` is the run Config (eval settings default from data.template, rollout.max_tokens, seed, reward.*) or an
    EvalConfig plus keyword defaults (template=, max_tokens=, seed=, timeout_s=, workers=).
    """
    s = EvalSettings.from_config(cfg, **defaults)
    results = evaluate(engine, tokenizer, s, rank=rank, world_size=world_size, samples_path=samples_path)
    return _broadcast(flat_metrics(results) if rank == 0 else None, world_size)
