"""The `math` verifier: our extraction + normalization, then math-verify for equivalence.

Everything here runs inside a pool worker (rlvr/rewards/pool.py), which the parent kills at the item's deadline.
So math-verify's own SIGALRM timeouts are switched off (`parsing_timeout=None`, `timeout_seconds=None`): they
only work in the main thread, take whole seconds and raise a BaseException; the parent's kill is the real limit.
"""
from __future__ import annotations

import cmath
import functools
import logging
from typing import Any, Optional

from rlvr.rewards.extract import extract_alternatives, extract_answer
from rlvr.rewards.normalize import choice_letter, normalize_answer, unwrap_text
from rlvr.rewards.registry import register_verifier

SENTINEL = "-98765.4321"  # no gold should accept this
REL_TOL = 1e-4  # numbers math-verify calls equal must also agree to this relative tolerance (see _numbers_agree)
logging.getLogger("math_verify").setLevel(logging.ERROR)  # silence "timeout is disabled" (the parent enforces it)


@functools.lru_cache(maxsize=1)
def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    # boxed_match_priority=0: we hand math-verify exactly one `\boxed{answer}`, so it must not look elsewhere
    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


def parse_answer(span: str) -> list:
    """math-verify parse of one answer span (already extracted), after our normalization. [] = unparseable."""
    return _parse_normalized(normalize_answer(span))


def _parse_normalized(norm: str) -> list:
    from math_verify import parse

    if not norm:
        return []
    return [_imaginary_unit(x) for x in parse("\\boxed{" + norm + "}", extraction_config=_configs(),
                                                parsing_timeout=None)]


def _imaginary_unit(x: Any) -> Any:
    """math-verify reads `i` as a plain symbol; in a final answer it is the imaginary unit (`(1+i)^2 = 2i`,
    `e^{i\\pi} = -1`, `\\sqrt{-1} = i`), so it becomes sympy's I."""
    import sympy

    if not isinstance(x, sympy.Basic):
        return x
    unit = {s: sympy.I for s in x.free_symbols if getattr(s, "name", None) == "i"}
    try:
        return x.xreplace(unit) if unit else x
    except (TypeError, ValueError):  # e.g. an inequality that would compare with I: keep the symbol
        return x


@functools.lru_cache(maxsize=8192)
def parse_gold(answer: str) -> tuple:
    """Gold answers are parsed once per worker and cached (a group's G responses share one gold)."""
    return tuple(parse_answer(answer))


def _gold_choice(answer: str) -> Optional[str]:
    """A gold that is exactly a choice letter (`C`, `(C)`, `\\text{(C)}`) puts grading in letter mode."""
    bare = unwrap_text(answer).replace("$", "").strip()
    return choice_letter(bare) if len(bare) <= 3 else None


def _numbers_agree(gold: Any, pred: Any) -> bool:
    """Veto math-verify's absolute tolerance on plain numbers: it rounds floats to 6 decimals and compares
    exact values with `evalf(chop=True)`, so 2^-99 == 2^-98 and 1e-7 == 2e-7 there. Relative error must be small."""
    import sympy

    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr) and gold.is_number and pred.is_number):
        return True
    try:
        a, b = complex(sympy.N(gold, 30)), complex(sympy.N(pred, 30))
    except (TypeError, ValueError, OverflowError):
        return True  # not a finite number; math-verify's symbolic verdict stands
    if not all(map(cmath.isfinite, (a, b))):
        return True  # oo == oo: nothing to veto
    scale = max(abs(a), abs(b))
    return scale == 0 or abs(a - b) <= REL_TOL * scale


def equivalent(gold: tuple | list, pred: list) -> bool:
    """math-verify equivalence of parsed gold and parsed prediction, with the relative-tolerance veto."""
    from math_verify import verify

    if not gold or not pred:
        return False
    if not verify(list(gold), pred, timeout_seconds=None):
        return False
    return _numbers_agree(gold[0], pred[0])


def grade(extracted: Optional[str], answer: str) -> bool:
    """Is the extracted answer span equivalent to the gold answer string? Identical normal forms are equal without
    parsing (so `10^{10^{10}}` vs itself is never evaluated); `p%` counts as p and as p/100 (`50\\%` is right for
    a gold of 50 and of 0.5, and `0.5` for a gold of `50\\%`)."""
    if extracted is None:
        return False
    letter = _gold_choice(answer)
    if letter is not None:
        return choice_letter(extracted) == letter
    pred, gold = normalize_answer(extracted), normalize_answer(answer)
    if pred and pred == gold:
        return True
    if equivalent(parse_gold(answer), _parse_normalized(pred)):
        return True
    if "%" in extracted and equivalent(parse_gold(answer), _parse_normalized(f"\\frac{{{pred}}}{{100}}")):
        return True
    return "%" in answer and equivalent(parse_gold(f"\\frac{{{gold}}}{{100}}"), _parse_normalized(pred))


@register_verifier("math")
def math_verifier(response: str, answer: str, correct_reward: float = 1.0, incorrect_reward: float = 0.0,
                  **meta: Any) -> dict:
    """Correct_reward if the response's declared final answer equals the gold, else incorrect_reward. A hedge
    between boxes is right only when every alternative is (so hedging never pays)."""
    alts = extract_alternatives(response)
    ok = bool(alts) and all(grade(a, answer) for a in alts)
    extracted = None if not alts else alts[0] if len(alts) == 1 else " or ".join(alts)
    return {"score": correct_reward if ok else incorrect_reward, "correct": ok, "extracted": extracted}


@register_verifier("math_equiv")
def math_equiv(response: str, answer: str, **meta: Any) -> dict:
    """Are two already-extracted answers the same (eval's maj@k grouping: `\\frac12` vs `0.5`)? Symmetric."""
    a, b = parse_answer(response), parse_answer(answer)
    same = normalize_answer(response) == normalize_answer(answer) or (equivalent(a, b) and equivalent(b, a))
    return {"score": float(same), "correct": same, "extracted": response}


@register_verifier("gold_check")
def gold_check(response: str, answer: str, **meta: Any) -> dict:
    """A gold is usable iff it parses and grades correct against itself written as a boxed response."""
    if not answer.strip():
        return {"score": 0.0, "correct": False, "extracted": "empty answer"}
    if not parse_gold(answer):
        return {"score": 0.0, "correct": False, "extracted": "math-verify cannot parse it"}
    if not grade(extract_answer("The answer is \\boxed{" + answer + "}"), answer):
        return {"score": 0.0, "correct": False, "extracted": "does not verify against itself"}
    if grade(SENTINEL, answer):  # a degenerate parse that accepts anything would be a free reward
        return {"score": 0.0, "correct": False, "extracted": f"accepts an unrelated answer ({SENTINEL})"}
    return {"score": 1.0, "correct": True, "extracted": None}
