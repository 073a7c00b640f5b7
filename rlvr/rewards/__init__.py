"""Verifiable rewards: a registry of small verifier functions, run in a process pool with hard deadlines.

    from rlvr.rewards import RewardScorer, register_verifier, verify_math_batch, math_equivalent_batch, Verdict

Built-in verifiers: `math` (math-verify + our extraction/normalization, rlvr/rewards/math.py), `format`
(`<think>` block then an answer), `code_stdout` / `code_tests` (model code in a bubblewrap sandbox,
rlvr/rewards/code.py) and the worked example `regex` (rlvr/rewards/examples.py).
Importing this package is cheap (no torch, sympy or math-verify); workers import math-verify.
"""
from rlvr.rewards.extract import extract_answer
from rlvr.rewards.normalize import normalize_answer
from rlvr.rewards.pool import VerifierPool, shared_pool
from rlvr.rewards.registry import VERIFIERS, Verdict, load_builtins, load_modules, register_verifier
from rlvr.rewards.scorer import RewardScorer, check_golds, math_equivalent_batch, verify_math_batch
from rlvr.rewards.shaping import overlong_penalty

__all__ = [
    "RewardScorer", "Verdict", "VerifierPool", "VERIFIERS", "check_golds", "extract_answer", "load_builtins",
    "load_modules", "math_equivalent_batch", "normalize_answer", "overlong_penalty", "register_verifier",
    "shared_pool", "verify_math_batch",
]
