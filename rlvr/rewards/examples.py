"""Worked examples of user verifiers. Copy one into your own file (e.g. `my_verifiers.py`) and name that file in
the recipe; no change to the package is needed:

    rewards: {math: 1.0, regex: 0.5}
    reward:
      modules: [my_verifiers.py]     # a path (relative to the working dir) or an importable module name

A verifier gets the response text, the prompt's gold `answer` and keyword metadata (`truncated`, `prompt_id`,
`task`, `correct_reward`, `incorrect_reward`; take `**meta`). It returns a float, or a dict with `score` and
optionally `correct` (bool) and `extracted` (what it read). It runs in the verifier pool: if it raises, hangs
or kills its process, that item scores 0 and is counted in `reward/errors` / `reward/timeouts`.
A verifier that runs model-written code must use the sandbox: see `code_stdout` / `code_tests` in
rlvr/rewards/code.py and `run_python` in rlvr/rewards/sandbox.py.
"""
from __future__ import annotations

import re

from rlvr.rewards.registry import register_verifier


@register_verifier("regex")
def regex_answer(response: str, answer: str, **meta) -> dict:
    """1.0 when the text after the last `Answer:` equals the gold (case/space-insensitive)."""
    found = re.findall(r"Answer:\s*(.+)", response)
    got = found[-1].strip().rstrip(".") if found else None
    ok = got is not None and got.lower() == answer.strip().lower()
    return {"score": 1.0 if ok else 0.0, "correct": ok, "extracted": got}
