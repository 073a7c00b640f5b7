"""Code verifiers on the sandbox: stdin/stdout test cases (TACO / APPS style), the bundled `code_demo` tasks,
pass modes, output tolerance, code extraction. Attacks on the sandbox: tests/unit/test_rewards_sandbox.py."""
from __future__ import annotations

import json

import pytest

from rlvr.data import load_rows
from rlvr.rewards import VerifierPool
from rlvr.rewards.code import code_tests, extract_code, parse_cases, same_output
from rlvr.rewards.sandbox import SandboxUnavailable, require_sandbox


def _sandbox_missing() -> str:
    try:
        require_sandbox()
        return ""
    except SandboxUnavailable as e:
        return str(e)


needs_sandbox = pytest.mark.skipif(bool(_sandbox_missing()), reason=f"sandbox unavailable: {_sandbox_missing()}")
CASES = json.dumps([{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"},
                    {"input": "0 0\n", "output": "0\n"}])


def _block(code: str) -> str:
    return f"<think>draft:\n```python\nprint('draft')\n```\n</think>\nFinal program:\n```python\n{code}\n```"


def test_parse_cases_accepts_json_apps_and_python_repr():
    want = [("1 2\n", "3\n"), ("5 5\n", "10\n"), ("0 0\n", "0\n")]
    assert parse_cases(CASES) == want
    assert parse_cases(json.dumps({"inputs": ["1 2\n", "5 5\n", "0 0\n"], "outputs": ["3\n", "10\n", "0\n"]})) == want
    assert parse_cases(str(json.loads(CASES))) == want  # what a loader's str() of a list of dicts gives
    assert parse_cases(json.dumps([{"input": ["1", "2"], "output": ["3"]}])) == [("1\n2\n", "3\n")]  # APPS lists
    for bad in ("print(3)", "[]", json.dumps([{"stdin": "1"}]), "{'a': 1}"):
        with pytest.raises(ValueError, match="code_tests gold"):
            parse_cases(bad)


def test_same_output_tolerates_only_trailing_whitespace():
    assert same_output("3\n", "3") and same_output("1 2  \n3\n\n\n", "1 2\n3") and same_output("a\r\nb\r\n", "a\nb")
    assert not same_output("3 4", "3  4") and not same_output("\n3", "3") and not same_output("3.0", "3")
    assert not same_output("", "0") and not same_output("Yes", "YES")


def test_extract_code_takes_the_last_block_after_thinking():
    assert extract_code(_block("print(1)")) == "print(1)\n"
    assert extract_code("```py\nA\n```\ntext\n```\nB\n```") == "B\n"  # an unlabelled block counts too
    assert extract_code("<think>```python\nprint(1)\n```</think> no code") is None
    assert extract_code("<think>```python\nprint(1)\n```") is None  # unfinished thinking
    assert extract_code("print(1)") is None and extract_code("```python\n   \n```") is None


def test_a_bad_pass_mode_is_an_error():
    with pytest.raises(ValueError, match="pass_mode must be 'all' or 'fraction'"):
        code_tests(_block("print(3)"), CASES, pass_mode="most")


@needs_sandbox
def test_code_tests_all_and_fraction_modes():
    only_first = _block("input()\nprint(3)")  # hard-codes the first case
    right = _block("a, b = map(int, input().split())\nprint(a + b)")
    assert code_tests(right, CASES)["score"] == 1.0
    v = code_tests(only_first, CASES)
    assert v["score"] == 0.0 and not v["correct"] and v["extracted"] == "1/3 passed; case 1: wrong output"
    v = code_tests(only_first, CASES, pass_mode="fraction")
    assert v["score"] == pytest.approx(1 / 3) and not v["correct"]
    v = code_tests(_block("import time\ntime.sleep(5)"), CASES, pass_mode="fraction", wall_s=0.5, budget_s=0.2)
    assert v["score"] == 0.0 and v["status"] == "timeout"
    assert v["extracted"] == "0/3 passed; case 0: wall-clock limit; stopped at case 1: time budget 0.2s spent"
    v = code_tests(_block("raise SystemExit(input())"), CASES)
    assert v["score"] == 0.0 and v["status"] == "ok" and "exit 1: 1 2" in v["extracted"]
    assert code_tests("no code here", CASES) == {"score": 0.0, "correct": False, "extracted": None}


@needs_sandbox
def test_bundled_code_demo_tasks_through_the_pool():
    rows = load_rows("code_demo")
    assert len(rows) == 8
    wrong = "import sys\nprint(sys.stdin.read().strip())"  # echoes its input
    tasks = [("code_tests", _block(r["solution"]), r["answer"], {}) for r in rows]
    tasks += [("code_tests", _block(wrong), r["answer"], {"pass_mode": "fraction"}) for r in rows]
    with VerifierPool(workers=2) as pool:
        out = pool.map(tasks, timeout_s=20.0)
    ref, echo = out[:8], out[8:]
    assert [v.status for v in out] == ["ok"] * 16
    assert all(v.correct and v.score == 1.0 for v in ref), [v.extracted for v in ref]
    assert not any(v.correct for v in echo)
    # echo passes exactly the cases whose output equals their input: reverse-words "a", fizzbuzz "1", fibonacci "0"
    assert sorted(round(v.score, 3) for v in echo if v.score > 0) == [0.333, 0.333, 0.333]
