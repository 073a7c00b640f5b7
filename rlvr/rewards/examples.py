"""Worked examples of user verifiers. Copy one into your own file (e.g. `my_verifiers.py`) and name that file in
the recipe; no change to the package is needed:

    rewards: {math: 1.0, regex: 0.5}
    reward:
      modules: [my_verifiers.py]     # a path (relative to the working dir) or an importable module name

A verifier gets the response text, the prompt's gold `answer` and keyword metadata (`truncated`, `prompt_id`,
`task`, `correct_reward`, `incorrect_reward`; take `**meta`). It returns a float, or a dict with `score` and
optionally `correct` (bool) and `extracted` (what it read). It runs in the verifier pool: if it raises, hangs
or kills its process, that item scores 0 and is counted in `reward/errors` / `reward/timeouts`.
"""
from __future__ import annotations

import re
import subprocess
import sys

from rlvr.rewards.registry import register_verifier


@register_verifier("regex")
def regex_answer(response: str, answer: str, **meta) -> dict:
    """1.0 when the text after the last `Answer:` equals the gold (case/space-insensitive)."""
    found = re.findall(r"Answer:\s*(.+)", response)
    got = found[-1].strip().rstrip(".") if found else None
    ok = got is not None and got.lower() == answer.strip().lower()
    return {"score": 1.0 if ok else 0.0, "correct": ok, "extracted": got}


@register_verifier("code_stdout")
def code_stdout(response: str, answer: str, timeout_s: float = 3.0, **meta) -> dict:
    """Run the last ```python block in a fresh interpreter; 1.0 when its stdout equals the gold.
    The subprocess has its own timeout; the pool's deadline still bounds the whole call."""
    blocks = re.findall(r"```(?:python|py)?\n(.*?)```", response, re.DOTALL)
    if not blocks:
        return {"score": 0.0, "correct": False, "extracted": None}
    try:
        run = subprocess.run([sys.executable, "-I", "-c", blocks[-1]], capture_output=True, text=True,
                             timeout=timeout_s)
        out = run.stdout.strip()
    except subprocess.TimeoutExpired:
        out = None
    ok = out is not None and out == answer.strip()
    return {"score": 1.0 if ok else 0.0, "correct": ok, "extracted": out}
