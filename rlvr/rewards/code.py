"""Code verifiers: the response's last ```python block runs in the bubblewrap sandbox (rlvr/rewards/sandbox.py).

  * `code_stdout`: the program's stdout (no input) must equal the gold answer.
  * `code_tests`: the gold is a list of stdin/stdout cases, as in TACO / APPS / CodeContests-style RL data:
    `[{"input": "1 2\\n", "output": "3\\n"}, ...]` or APPS' `{"inputs": [...], "outputs": [...]}` (JSON, or the
    Python repr a loader's `str()` makes of such a list). `pass_mode="all"` (default) scores 1 only when every
    case passes, the sparse reward DeepCoder and most code-RLVR recipes train on (partial credit rewards programs
    that special-case the easy tests); `pass_mode="fraction"` scores the fraction of cases passed.
Outputs are compared line by line after stripping trailing whitespace on each line and trailing blank lines (the
usual APPS / CodeContests checker tolerance); anything else must match exactly.

Settings are keyword arguments (limits: any SandboxLimits field, e.g. `wall_s=2`, `memory_mb=256`). To train with
other settings, register a variant in your own verifier module:

    register_verifier("code_frac")(functools.partial(code_tests, pass_mode="fraction", wall_s=2.0))

A sandbox that cannot start raises SandboxUnavailable: the item is counted as an error and logged with the install
command, and `RewardScorer` calls the same check up front (`preflight`), so training does not start without it.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import time
from typing import Any, Optional

from rlvr.rewards.extract import strip_thinking
from rlvr.rewards.registry import register_verifier
from rlvr.rewards.sandbox import RunResult, SandboxLimits, require_sandbox, run_python

_BLOCK_RE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
# a program that ran into the wall clock / was killed by a limit is counted in reward/timeouts / reward/errors
_STATUS = {"timeout": "timeout", "signal": "error"}
_LIMIT_FIELDS = {f.name for f in dataclasses.fields(SandboxLimits)}
MAX_CODE_CHARS = 100_000  # a longer "program" is degenerate; it scores 0 without running


def extract_code(response: str) -> Optional[str]:
    """The last fenced Python block after the thinking (code inside `<think>` is a draft, not the answer)."""
    text = strip_thinking(response)
    blocks = _BLOCK_RE.findall(text) if text else []
    if not blocks or not blocks[-1].strip() or len(blocks[-1]) > MAX_CODE_CHARS:
        return None
    return blocks[-1]


def same_output(got: str, want: str) -> bool:
    """Line-wise equality ignoring trailing whitespace per line and trailing blank lines."""
    def lines(s: str) -> list[str]:
        out = [ln.rstrip() for ln in s.replace("\r\n", "\n").split("\n")]
        while out and not out[-1]:
            out.pop()
        return out
    return lines(got) == lines(want)


def parse_cases(answer: str) -> list[tuple[str, str]]:
    """(stdin, expected stdout) pairs of a `code_tests` gold; ValueError naming the problem otherwise."""
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        try:
            data = ast.literal_eval(answer)  # str() of a list of dicts, as a data loader may write it
        except (ValueError, SyntaxError) as e:
            raise ValueError(f"code_tests gold is neither JSON nor a Python literal: {e}") from None
    if isinstance(data, dict) and "inputs" in data and "outputs" in data:  # APPS / TACO input_output
        data = [{"input": i, "output": o} for i, o in zip(data["inputs"], data["outputs"])]
    if not isinstance(data, list) or not data or not all(isinstance(c, dict) and {"input", "output"} <= set(c)
                                                       for c in data):
        raise ValueError('code_tests gold must be a non-empty list of {"input": ..., "output": ...} cases')
    return [(_text(c["input"]), _text(c["output"])) for c in data]


def _text(v: Any) -> str:
    return "\n".join(map(str, v)) + "\n" if isinstance(v, list) else str(v)  # APPS stores some cases as lists


def _limits(kw: dict) -> SandboxLimits:
    return SandboxLimits(**{k: v for k, v in kw.items() if k in _LIMIT_FIELDS})


def _why(run: RunResult) -> str:
    tail = run.stderr.strip().splitlines()[-1:] or [""]
    return {"timeout": "wall-clock limit", "signal": f"killed (exit {run.returncode})"}.get(
        run.status, f"exit {run.returncode}: {tail[0][:200]}")


@register_verifier("code_stdout", preflight=require_sandbox)
def code_stdout(response: str, answer: str, **kw: Any) -> dict:
    """1.0 when the last ```python block, run sandboxed with no input, prints the gold answer."""
    code = extract_code(response)
    if code is None:
        return {"score": 0.0, "correct": False, "extracted": None}
    run = run_python(code, "", _limits(kw))
    ok = run.status == "ok" and same_output(run.stdout, answer)
    return {"score": float(ok), "correct": ok, "status": _STATUS.get(run.status, "ok"),
            "extracted": run.stdout.strip()[:500] if run.status == "ok" else _why(run)}


@register_verifier("code_tests", preflight=require_sandbox)
def code_tests(response: str, answer: str, pass_mode: str = "all", budget_s: float = 0.0, **kw: Any) -> dict:
    """Run the program once per stdin/stdout case, each in a fresh sandbox. `budget_s` > 0 stops starting new
    cases after that many seconds (keep it under `reward.timeout_s`, the pool's hard deadline, so slow but
    partly right programs still get their fraction); unrun cases count as failed."""
    if pass_mode not in ("all", "fraction"):
        raise ValueError(f"code_tests: pass_mode must be 'all' or 'fraction', got {pass_mode!r}")
    cases = parse_cases(answer)
    code = extract_code(response)
    if code is None:
        return {"score": 0.0, "correct": False, "extracted": None}
    lim, t0, passed, why, status = _limits(kw), time.monotonic(), 0, "", "ok"
    for i, (stdin, want) in enumerate(cases):
        if budget_s > 0 and time.monotonic() - t0 > budget_s:
            why = (why + "; " if why else "") + f"stopped at case {i}: time budget {budget_s:g}s spent"
            break
        run = run_python(code, stdin, lim)
        if run.status == "ok" and same_output(run.stdout, want):
            passed += 1
            continue
        why = why or f"case {i}: " + ("wrong output" if run.status == "ok" else _why(run))
        status = status if status != "ok" else _STATUS.get(run.status, "ok")
        if pass_mode == "all":
            break
    ok = passed == len(cases)
    score = float(ok) if pass_mode == "all" else passed / len(cases)
    return {"score": score, "correct": ok, "status": status,
            "extracted": f"{passed}/{len(cases)} passed" + (f"; {why}" if why else "")}
