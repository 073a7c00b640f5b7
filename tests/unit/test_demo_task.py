"""The demo task: deterministic, disjoint splits, correct golds the math verifier accepts, imperfect demos."""
from __future__ import annotations

import json
import random

from rlvr.demo import task
from rlvr.rewards.math import math_verifier


def test_problem_text_answer_and_solution():
    p = task.Problem(start=3, ops=(5, -2))
    assert p.text() == "Compute 3+5-2."
    assert p.answer == 6  # 3 + 5 - 2
    assert task.solution(p) == " 3+5=8. 8-2=6. \\boxed{6}"
    assert math_verifier(task.solution(p), "6")["correct"]
    # a slip is off by 1-2 and carries forward: the box holds the slipped chain's result, not the gold
    slipped = task.solution(p, random.Random(0), slip=1.0)
    assert not math_verifier(slipped, "6")["correct"] and slipped.count("=") == 2


def test_splits_deterministic_disjoint_and_in_range():
    train, held = task.make_splits(seed=3, n_train=500, n_heldout=100)
    again = task.make_splits(seed=3, n_train=500, n_heldout=100)
    assert (train, held) == again and task.make_splits(seed=4, n_train=500, n_heldout=100)[1] != held
    assert len(train) == 500 and len(held) == 100
    assert not {p.signature for p in train} & {p.signature for p in held}
    for p in train + held:
        totals = [p.start + sum(p.ops[:i + 1]) for i in range(len(p.ops))]
        assert 2 <= len(p.ops) <= 4 and all(0 <= t <= task.MAX_TOTAL for t in totals)


def test_rows_load_with_the_data_loader(tmp_path):
    from rlvr.data.load import load_rows

    train, _ = task.make_splits(seed=0, n_train=20, n_heldout=5)
    path = task.write_jsonl(tmp_path / "train.jsonl", task.rows(train, "train"))
    rows = load_rows(path)
    assert len(rows) == 20 and rows[0]["id"] == "demo-train-0"
    assert rows[0]["problem"] == train[0].text() and rows[0]["answer"] == str(train[0].answer)
    assert json.loads(path.read_text().splitlines()[3])["answer"] == str(train[3].answer)


def test_demonstrations_are_imperfect_at_the_configured_rates():
    train, _ = task.make_splits(seed=0, n_train=400, n_heldout=10)
    rng = random.Random(0)
    n, worked, worked_ok, guess_ok = 4000, 0, 0, 0
    for i in range(n):
        p = train[i % len(train)]
        d = task.demonstration(p, rng, reason_frac=0.3, slip=0.1)
        ok = math_verifier(d, str(p.answer))["correct"] if i < 600 else d.endswith(f"{{{p.answer}}}")
        if d.startswith(" \\boxed"):
            guess_ok += ok
        else:
            worked, worked_ok = worked + 1, worked_ok + ok
    # worked steps ~30% of demos; correct when no step slips: 0.9^2, 0.9^3 or 0.9^4 (0.81, 0.73, 0.66; ~0.73 mean)
    assert 0.26 < worked / n < 0.34
    assert 0.66 < worked_ok / worked < 0.80
    # guesses are answer + U{-4..4}: right 1/9 of the time, more near 0 and 9 where they are clamped
    assert 0.09 < guess_ok / (n - worked) < 0.22
