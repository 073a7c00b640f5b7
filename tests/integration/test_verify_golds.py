"""The two symbolic-heavy benchmarks (MATH-500, Minerva: ~25 s of sympy on 2 cores) verify gold against itself.
The fast sets and the Minerva e-notation pairs run in tests/unit/test_rewards_golds.py."""
from __future__ import annotations

import pytest

from rlvr.data import load_rows
from rlvr.rewards import check_golds


@pytest.mark.slow
@pytest.mark.parametrize("name", ["math500", "minerva"])
def test_symbolic_benchmark_golds_verify_against_themselves(name):
    answers, sources = [], []
    for row in load_rows(name):
        for key in ("answer", "answer_mv"):
            if row.get(key) is not None:
                answers.append(str(row[key]))
                sources.append(f"{row['_source']} {key}")
    assert len(answers) >= 500
    assert check_golds(answers, sources, workers=2, timeout_s=10.0) == []
