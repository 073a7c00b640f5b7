"""The baseline of scripts/bench/bench_verify_hard.py: plain math-verify, as most RL repos call it -- parse + verify
with its defaults (SIGALRM timeouts of 5 s each) on the raw response, the gold written as `\\boxed{gold}`.
Loaded into the verifier pool as a user module, so a C-level hang it cannot interrupt is still cut off."""
from __future__ import annotations

from rlvr.rewards import register_verifier


@register_verifier("plain_math_verify")
def plain_math_verify(response: str, answer: str, **meta) -> dict:
    from math_verify import parse, verify

    ok = bool(verify(parse("\\boxed{" + answer + "}"), parse(response)))
    return {"score": float(ok), "correct": ok}
