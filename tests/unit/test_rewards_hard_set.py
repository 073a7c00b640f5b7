"""The math verifier on the hard, mixed set tests/data/math_hard.jsonl (nested / padded answers, deadline bait,
repeating decimals, intervals as inequalities, constants and i, several boxes, hedges, thousands separators, a
mixed bag), through the real pool with a short deadline. Side-by-side with plain math-verify:
scripts/bench/bench_verify_hard.py."""
from __future__ import annotations

import json
import runpy
from collections import defaultdict
from pathlib import Path

import pytest

from rlvr.rewards import VerifierPool

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = [json.loads(x) for x in (DATA / "math_hard.jsonl").read_text(encoding="utf-8").splitlines()]


def _accuracy(cases: list[dict], timeout_s: float) -> tuple[float, dict[str, float], list[str]]:
    with VerifierPool(workers=2) as pool:
        verdicts = pool.map([("math", c["response"], c["gold"], {}) for c in cases], timeout_s)
    hits, by_cat = [], defaultdict(list)
    for c, v in zip(cases, verdicts):
        hit = (v.status == "ok" and v.correct) == c["expected"]
        hits.append(hit)
        by_cat[c["category"]].append(hit)
    misses = [c["id"] for c, h in zip(cases, hits) if not h]
    return sum(hits) / len(hits), {k: sum(v) / len(v) for k, v in by_cat.items()}, misses


def test_hard_set_is_what_its_generator_writes():
    generated = runpy.run_path(str(DATA / "make_math_hard.py"))["cases"]
    assert generated == CASES  # regenerate with: python tests/data/make_math_hard.py
    assert len(CASES) >= 500 and len({c["id"] for c in CASES}) == len(CASES)
    for c in CASES:
        assert set(c) == {"id", "category", "response", "gold", "expected", "why"} and c["why"]
    by_cat = defaultdict(set)
    for c in CASES:
        by_cat[c["category"]].add(c["expected"])
    assert all(v == {True, False} for v in by_cat.values())  # every class has accept and reject cases


def test_hard_set_sample_fast():
    acc, _, misses = _accuracy(CASES[::3], timeout_s=2.0)  # a third of every category (~8 s)
    assert acc >= 0.97, misses


@pytest.mark.slow
def test_hard_set_whole():
    acc, by_cat, misses = _accuracy(CASES, timeout_s=2.0)
    assert acc >= 0.97, misses
    assert min(by_cat.values()) >= 0.9, by_cat
