"""The verifier pool: hard parent-side deadlines, crash containment, worker replacement, batched scoring.
One pool (2 workers, 1 s deadline) is shared by the whole module; user verifiers come from a file path."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rlvr.rewards import VerifierPool, math_equivalent_batch, verify_math_batch

TIMEOUT = 1.0
USER_VERIFIERS = '''
import os, time
from rlvr.rewards import register_verifier

@register_verifier("t_sleepy")
def sleepy(response, answer, **meta):
    time.sleep(1e9)

@register_verifier("t_exit")
def hard_exit(response, answer, **meta):
    os._exit(3)

@register_verifier("t_raise")
def raises(response, answer, **meta):
    raise RuntimeError("boom")

@register_verifier("t_base")
def base_exc(response, answer, **meta):
    raise SystemExit(1)

@register_verifier("t_bad_return")
def bad_return(response, answer, **meta):
    return "yes"

@register_verifier("t_len")
def length(response, answer, **meta):
    return {"score": len(response), "extracted": response[:3]}

@register_verifier("t_alloc")
def alloc(response, answer, **meta):
    return float(len(bytearray(8 << 30)))  # 8 GiB: above the worker's RLIMIT_AS
'''


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("verifiers") / "user_verifiers.py"
    path.write_text(USER_VERIFIERS)
    with VerifierPool(workers=2, modules=[str(path)], memory_mb=2048) as p:
        yield p


def _t(name, response="x", answer="y"):
    return (name, response, answer, {})


def test_hang_is_killed_at_deadline_and_others_keep_going(pool):
    tasks = [_t("t_sleepy")] + [_t("t_len", "abcd" * i) for i in range(1, 21)]
    t0 = time.monotonic()
    out = pool.map(tasks, timeout_s=TIMEOUT)
    elapsed = time.monotonic() - t0
    assert out[0].status == "timeout" and out[0].score == 0.0 and not out[0].correct
    assert [v.score for v in out[1:]] == [4.0 * i for i in range(1, 21)]  # order kept, nothing lost
    assert all(v.status == "ok" for v in out[1:])
    # one worker is stuck for TIMEOUT, the other finishes the 20 quick items meanwhile
    assert elapsed < TIMEOUT + 1.5


def test_every_adversarial_verifier_returns_within_deadline(pool):
    names = ["t_sleepy", "t_exit", "t_raise", "t_base", "t_bad_return", "t_alloc", "t_sleepy", "t_exit"]
    t0 = time.monotonic()
    out = pool.map([_t(n) for n in names] + [_t("t_len", "ok")], timeout_s=TIMEOUT)
    # 2 sleepers on 2 workers -> at most ~2 deadline rounds plus replacement start-up
    assert time.monotonic() - t0 < 2 * TIMEOUT + 4
    assert [v.status for v in out] == ["timeout", "error", "error", "error", "error", "error", "timeout", "error", "ok"]
    assert "boom" in out[2].extracted and "SystemExit" in out[3].extracted and "MemoryError" in out[5].extracted
    assert all(v.score == 0.0 for v in out[:-1]) and out[-1].score == 2.0
    assert len(pool.workers) == 2 and all(w.proc.is_alive() for w in pool.workers)  # replaced, still 2


def test_pool_is_reused_after_failures(pool):
    before = [w.proc.pid for w in pool.workers]
    out = pool.map([_t("t_len", "abc")] * 6, timeout_s=TIMEOUT)
    assert [v.score for v in out] == [3.0] * 6 and [w.proc.pid for w in pool.workers] == before


def test_math_adversarial_inputs_bounded(pool):
    tower = "\\boxed{10^{10^{10^{10}}}}"
    braces = "\\boxed{" + "{" * 50 + "1" + "}" * 50 + "}"
    huge = "lorem ipsum 3.14 " * 6000 + "\\boxed{2}"  # ~100 kB
    tasks = [("math", tower, "1", {}), ("math", braces, "1", {}), ("math", huge, "2", {}),
             ("math", "\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "3", {}), ("math", "\\boxed{5}", "5", {})]
    t0 = time.monotonic()
    out = pool.map(tasks, timeout_s=TIMEOUT)
    assert time.monotonic() - t0 < 3 * TIMEOUT + 4
    assert not out[0].correct and not out[3].correct  # whatever the status, no credit
    assert out[2].correct and out[4].correct


def test_verify_math_batch_on_case_table():
    """Accuracy on the tricky-case table (tests/unit/data/reward_cases.jsonl) through the shared pool."""
    rows = [json.loads(x) for x in (Path(__file__).parent / "data" / "reward_cases.jsonl").open()]
    out = verify_math_batch([r["response"] for r in rows], [r["answer"] for r in rows], timeout_s=5.0, workers=2)
    wrong = [(r["id"], v) for r, v in zip(rows, out) if v.correct != r["expected"] or v.status != "ok"]
    assert not wrong
    assert all(v.score == float(r["expected"]) for r, v in zip(rows, out))


def test_math_equivalent_batch():
    pairs = [("\\frac12", "0.5"), ("0.5", "\\frac{1}{2}"), ("2", "3"), ("1,000", "1000"), ("x=5", "5"),
             ("2^{-99}", "2^{-98}")]
    assert math_equivalent_batch(pairs, workers=2) == [True, True, False, True, True, False]
