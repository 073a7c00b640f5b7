"""Every bundled benchmark gold verifies against itself written as a boxed response (and rejects an unrelated
answer), including Minerva's e-notation golds against the math-verify-friendly `answer_mv` rewrite."""
from __future__ import annotations

import json

import pytest

from rlvr.rewards import check_golds, verify_math_batch

SETS = ["aime24", "aime25", "amc23", "gsm8k_test"]  # math500 + minerva (slow symbolic golds): tests/integration


@pytest.mark.parametrize("name", SETS)
def test_benchmark_golds_verify_against_themselves(shared_data, name):
    path = shared_data / "benchmarks" / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.open()]
    answers, sources = [], []
    for ln, row in enumerate(rows, 1):
        for key in ("answer", "answer_mv", "answer_raw"):
            if row.get(key) is not None:
                answers.append(str(row[key]))
                sources.append(f"{path.name}:{ln} {key}")
    assert check_golds(answers, sources, workers=2, timeout_s=10.0) == []


def test_minerva_enotation_golds_accept_times_ten_form(shared_data):
    rows = [json.loads(line) for line in (shared_data / "benchmarks" / "minerva_math.jsonl").open()]
    pairs = [(r["answer_mv"], r["answer"]) for r in rows if r.get("answer_mv") and r["answer_mv"] != r["answer"]]
    assert len(pairs) >= 60
    # the model writes `4.5 \times 10^{33}`, the raw gold says `4.5e33` -- and the other way round
    fwd = verify_math_batch(["\\boxed{%s}" % mv for mv, _ in pairs], [raw for _, raw in pairs], timeout_s=10.0)
    back = verify_math_batch(["\\boxed{%s}" % raw for _, raw in pairs], [mv for mv, _ in pairs], timeout_s=10.0)
    assert all(v.correct for v in fwd) and all(v.correct for v in back)
