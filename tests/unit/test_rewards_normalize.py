"""Normalization + grading in-process (math-verify with its SIGALRM timeouts off), each case accept and reject.
The table tests/unit/data/reward_cases.jsonl is the tricky-case set; the pool test runs it again end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr.rewards.math import gold_check, math_verifier
from rlvr.rewards.normalize import choice_letter, normalize_answer

CASES = [json.loads(x) for x in (Path(__file__).parent / "data" / "reward_cases.jsonl").open()]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_table(case):
    v = math_verifier(case["response"], case["answer"])
    assert v["correct"] is case["expected"]
    assert v["score"] == (1.0 if case["expected"] else 0.0)


def test_case_table_has_both_directions_per_category():
    by_cat = {}
    for c in CASES:
        by_cat.setdefault(c["category"], set()).add(c["expected"])
    one_sided = {k for k, v in by_cat.items() if v != {True, False} and k not in ("no_marker",)}
    assert not one_sided  # every normalization rule has an accept and a reject case


@pytest.mark.parametrize("raw, norm", [
    ("4.5e33", "4.5 \\times 10^{33}"), ("1e-5", "1 \\times 10^{-5}"), ("2.7778E-6", "2.7778 \\times 10^{-6}"),
    ("1,000", "1000"), ("1\\,000", "1000"), ("1{,}000", "1000"), ("\\$32,\\!348", "32348"), ("(1,2)", "(1,2)"),
    ("033", "33"), ("0.5", "0.5"), ("\\dfrac{1}{2}", "\\frac{1}{2}"), ("30^\\circ", "30"), ("30°", "30"),
    ("50\\%", "50"), ("10 \\text{ cm}", "10"), ("√2", "\\sqrt{2}"), ("\\varnothing", "\\emptyset"),
    ("-1./3", "-1/3"), ("np.arcsin(10/13)", "\\arcsin(10/13)"), ("\\text{Devon}", "\\text{Devon}"),
    ("e^{2}", "e^{2}"), ("x2e3y", "x2e3y"),  # Euler's e and identifiers are left alone
])
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm
    assert normalize_answer(norm) == norm  # idempotent


@pytest.mark.parametrize("s, letter", [("C", "C"), ("(C)", "C"), ("\\textbf{(C)}", "C"), ("\\text{(C)} 12", "C"),
                                       ("12", None), ("Cat", None), ("(F)", None)])
def test_choice_letter(s, letter):
    assert choice_letter(s) == letter


def test_truncated_response_gets_no_credit_even_with_flag_off():
    assert not math_verifier("\\boxed{5} no wait \\boxed{5", "5", truncated=True)["correct"]
    assert math_verifier("\\boxed{5}", "5", truncated=True)["correct"]  # a closed box still counts


def test_rewards_follow_config():
    assert math_verifier("\\boxed{1}", "2", correct_reward=1.0, incorrect_reward=-1.0)["score"] == -1.0


@pytest.mark.parametrize("gold, ok", [("5", True), ("\\frac{1}{2}", True), ("", False), ("   ", False),
                                      ("\\text{Devon}", True)])
def test_gold_check(gold, ok):
    assert gold_check(gold, gold)["correct"] is ok
