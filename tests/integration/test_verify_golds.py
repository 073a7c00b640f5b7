"""The two symbolic-heavy benchmarks (MATH-500, Minerva: ~25 s of sympy on 2 cores) verify gold against itself.
The fast sets and the Minerva e-notation pairs run in tests/unit/test_rewards_golds.py."""
from __future__ import annotations

import json

import pytest

from rlvr.rewards import check_golds


@pytest.mark.slow
@pytest.mark.parametrize("name", ["math500", "minerva_math"])
def test_symbolic_benchmark_golds_verify_against_themselves(shared_data, name):
    path = shared_data / "benchmarks" / f"{name}.jsonl"
    answers, sources = [], []
    for ln, row in enumerate((json.loads(line) for line in path.open()), 1):
        for key in ("answer", "answer_mv"):
            if row.get(key) is not None:
                answers.append(str(row[key]))
                sources.append(f"{path.name}:{ln} {key}")
    assert len(answers) >= 500
    assert check_golds(answers, sources, workers=2, timeout_s=10.0) == []
