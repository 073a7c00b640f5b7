"""`rlvr eval` end to end on the tiny random model with the HF backend (accuracy ~0 is expected)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

SIX = ["aime24", "aime25", "math500", "amc23", "gsm8k", "minerva"]
SAMPLE_KEYS = {"benchmark", "problem_id", "problem_index", "sample_index", "gold", "response", "extracted", "correct",
               "score", "status", "length", "finish_reason"}


def _env():
    return {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def test_rlvr_eval_six_benchmarks(tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "rlvr.cli", "eval", "--model", str(tiny_model_dir), "--benchmarks", ",".join(SIX),
           "--backend", "hf", "--n", "4", "--limit", "8", "--max-tokens", "12", "--seed", "0", "--output", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 60, f"tiny eval took {elapsed:.1f} s"

    report = json.loads((out / "results.json").read_text())
    assert list(report["benchmarks"]) == SIX
    assert report["backend"] == "hf" and report["seed"] == 0 and report["model"] == str(tiny_model_dir)
    assert report["sampling"] == {"n": 4, "ks": [1, 4], "temperature": 0.6, "top_p": 0.95, "top_k": -1,
                                  "max_tokens": 12, "seed": 0, "template": "qwen_math"}
    assert {"torch", "transformers", "python"} <= set(report["versions"])
    for name, res in report["benchmarks"].items():
        assert res["num_problems"] == 8 and res["n"] == 4 and len(res["sha256"]) == 64
        assert set(res["metrics"]) == {"avg@4", "pass@1", "pass@4", "maj@1", "maj@4"}
        for v in res["metrics"].values():
            assert 0.0 <= v["ci_low"] <= v["value"] <= v["ci_high"] <= 1.0
        assert 0 < res["lengths"]["mean"] <= 12 and 0 <= res["lengths"]["truncation_rate"] <= 1
        assert res["timing"]["s_per_100_samples"] > 0
    assert report["benchmarks"]["minerva"]["answer_keys"] == ["answer_mv", "answer"]

    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 * 8 * 4
    assert all(set(s) == SAMPLE_KEYS for s in samples)
    assert {s["finish_reason"] for s in samples} <= {"stop", "length"}
    assert all(s["length"] <= 12 for s in samples)
    # the console table: header plus one row per benchmark
    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| benchmark | problems | avg@4 | pass@1 | pass@4 | maj@1 | maj@4 |")
    assert [row.split("|")[1].strip() for row in table[2:]] == SIX
    assert (out / "results.md").read_text().strip() == "\n".join(table)


@pytest.fixture(scope="module")
def hf_engine(tiny_model_dir):
    from transformers import AutoTokenizer

    from rlvr.config import load_config
    from rlvr.rollout import make_engine

    cfg = load_config(None, [f"model.path={tiny_model_dir}", "rollout.backend=hf", "rollout.max_tokens=12"])
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    return cfg, tok, make_engine(cfg, tok)


def test_same_seed_same_samples_hf(hf_engine, tmp_path):
    from rlvr.eval import EvalSettings, evaluate

    _, tok, engine = hf_engine

    def responses(seed, path):
        s = EvalSettings(benchmarks=["gsm8k"], n=3, limit=3, max_tokens=12, seed=seed, temperature=1.0, top_p=1.0)
        evaluate(engine, tok, s, samples_path=path)
        return [json.loads(line)["response"] for line in open(path)]

    a, b, c = (responses(seed, tmp_path / f"{i}.jsonl") for i, seed in enumerate([1, 1, 2]))
    assert len(a) == 9 and a == b  # same seed, same backend -> the same samples
    assert a != c  # another seed -> other samples


def test_run_eval_for_the_trainer(hf_engine):
    from rlvr.eval import run_eval

    cfg, tok, engine = hf_engine
    cfg.eval.benchmarks, cfg.eval.n, cfg.eval.limit, cfg.eval.max_tokens = ["math500", "amc23"], 2, 2, 8
    metrics = run_eval(engine, tok, cfg, rank=0, world_size=1)
    expected = {f"eval/{b}/{m}" for b in ("math500", "amc23")
                for m in ("avg@2", "pass@1", "pass@2", "maj@1", "maj@2", "response_len", "truncation_rate")}
    assert set(metrics) == expected
    assert all(isinstance(v, float) for v in metrics.values())
    assert 0 < metrics["eval/math500/response_len"] <= 8  # eval.max_tokens, not rollout.max_tokens, bounds it


def test_data_parallel_torchrun_matches_problem_set(tiny_model_dir, tmp_path):
    """Two gloo ranks each evaluate half the problems; rank 0 gathers every sample."""
    out = tmp_path / "dp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29571",
           "-m", "rlvr.eval.cli", "--model", str(tiny_model_dir), "--benchmarks", "amc23", "--backend", "hf",
           "--samples", "2", "--limit", "5", "--max-tokens", "8", "--output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "results.json").read_text())
    assert report["world_size"] == 2 and report["benchmarks"]["amc23"]["num_problems"] == 5
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    # 5 problems x 2 samples, ordered by problem then sample although ranks held problems {0,2,4} and {1,3}
    assert [(s["problem_index"], s["sample_index"]) for s in samples] == [(p, j) for p in range(5) for j in range(2)]
