"""Every bundled benchmark gold verifies against itself written as a boxed response (and rejects an unrelated
answer), including Minerva's e-notation golds against the math-verify-friendly `answer_mv` rewrite."""
from __future__ import annotations

import pytest

from rlvr.data import load_rows
from rlvr.rewards import check_golds, verify_math_batch

SETS = ["aime24", "aime25", "amc23", "gsm8k"]  # math500 + minerva (slow symbolic golds): tests/integration


@pytest.mark.parametrize("name", SETS)
def test_benchmark_golds_verify_against_themselves(name):
    answers, sources = [], []
    for row in load_rows(name):
        for key in ("answer", "answer_mv", "answer_raw"):
            if row.get(key) is not None:
                answers.append(str(row[key]))
                sources.append(f"{row['_source']} {key}")
    assert check_golds(answers, sources, workers=2, timeout_s=10.0) == []


def test_minerva_enotation_golds_accept_times_ten_form():
    rows = load_rows("minerva")
    pairs = [(r["answer_mv"], r["answer"]) for r in rows if r.get("answer_mv") and r["answer_mv"] != r["answer"]]
    assert len(pairs) >= 60
    # the model writes `4.5 \times 10^{33}`, the raw gold says `4.5e33` -- and the other way round
    fwd = verify_math_batch(["\\boxed{%s}" % mv for mv, _ in pairs], [raw for _, raw in pairs], timeout_s=10.0)
    back = verify_math_batch(["\\boxed{%s}" % raw for _, raw in pairs], [mv for mv, _ in pairs], timeout_s=10.0)
    assert all(v.correct for v in fwd) and all(v.correct for v in back)
