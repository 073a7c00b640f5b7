"""The `format` verifier: `<think>...</think>` followed by a declared answer (boxed or `<answer>` tags).

Runs inline (plain string checks, linear time) -- no pool round trip needed.
"""
from __future__ import annotations

from typing import Any

from rlvr.rewards.extract import THINK_CLOSE, THINK_OPEN, last_boxed
from rlvr.rewards.registry import register_verifier


def well_formed(response: str) -> bool:
    """Exactly one think block (the opening tag may live in the prompt, as in the R1 template) with
    non-empty reasoning, then a non-empty tail holding a closed `\\boxed{}` or `<answer>...</answer>`."""
    if response.count(THINK_CLOSE) != 1 or response.count(THINK_OPEN) > 1:
        return False
    think, tail = response.split(THINK_CLOSE)
    head = think.lstrip()
    if THINK_OPEN in think and not head.startswith(THINK_OPEN):
        return False  # text before <think>
    if not head.removeprefix(THINK_OPEN).strip():
        return False
    found, box = last_boxed(tail)
    if found:
        return box is not None and bool(box.strip())
    start, end = tail.find("<answer>"), tail.find("</answer>")
    return 0 <= start < end and bool(tail[start + len("<answer>"):end].strip())


@register_verifier("format", inline=True)
def format_reward(response: str, answer: str, **meta: Any) -> float:
    """1.0 for `<think>reasoning</think> answer`, else 0.0 (e.g. `rewards: {math: 1.0, format: 0.1}`)."""
    return 1.0 if well_formed(response) else 0.0
