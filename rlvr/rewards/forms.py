"""Equivalent forms math-verify does not equate, rewritten into one it does (gold and answer alike).

  * repeating decimals -> exact fractions: `0.\\overline{3}`, `0.1\\dot{6}`, `0.\\dot{1}\\dot{8}` anywhere;
    as a whole answer also `0.(3)` and `0.333\\ldots` / `0.1666...` (shortest period, repeated twice);
  * one-variable inequalities -> the interval they describe: `x \\le 2` -> `(-\\infty, 2]`,
    `2 < x \\le 5` -> `(2, 5]`, `x < 1 \\text{ or } x > 3` -> a union; `x \\in S` -> `S`;
    `\\mathbb{R}` -> `(-\\infty, \\infty)`;
  * constants in other notations: `\\mathrm{i}` / `\\text{i}` / `\\operatorname{i}` / `\\imath` -> `i`
    (math.py reads `i` as the imaginary unit), `\\mathrm{e}` -> `e`, `\\uppi` / `\\mathrm{\\pi}` -> `\\pi`,
    `\\infin` / `+\\infty` -> `\\infty`.
Every rewrite is a bounded regex or a split of an at most 1000-character answer: linear time.
"""
from __future__ import annotations

import math
import re
from typing import Optional

_UPRIGHT = r"\\(?:mathrm|text|textrm|operatorname|mathit|mathup|rm)\s*\{\s*"
_CONST_RES = [
    (re.compile(_UPRIGHT + r"([ei])\s*\}|\\rm\s+([ei])(?![a-zA-Z])"), lambda m: m.group(1) or m.group(2)),
    (re.compile(r"\\imath(?![a-zA-Z])"), lambda m: "i"),
    (re.compile(_UPRIGHT + r"\\pi\s*\}|\\uppi(?![a-zA-Z])"), lambda m: "\\pi"),
    (re.compile(r"\\infin(?![a-zA-Z])"), lambda m: "\\infty"),
    (re.compile(r"(?:^|(?<=[(\[,]))\s*\+\s*(?=\\infty)"), lambda m: ""),
]
# 0.1\overline{6}, 0.\dot{3}, 0.\dot{1}\dot{8} (first and last digit of the period dotted)
_OVERLINE_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\(?:overline|bar|dot)\s*\{?(\d+)\}?"
                          r"(?:(\d*)\\dot\s*\{?(\d)\}?)?")
_PAREN_REP_RE = re.compile(r"(-?)(\d*)\.(\d*)\((\d+)\)")
_ELLIPSIS_RE = re.compile(r"(-?)(\d*)\.(\d+)\s*(?:\\[lc]?dots|\.\.\.|…)")
_REL_RE = re.compile(r"(\\le(?:q|qslant)?(?![a-zA-Z])|\\ge(?:q|qslant)?(?![a-zA-Z])|<=|>=|<|>)")
_OR_RE = re.compile(r"\\text\s*\{\s*or\s*\}|\\lor(?![a-zA-Z])|\\vee(?![a-zA-Z])|\bor\b")
_VAR_RE = re.compile(r"[a-zA-Z]")
_INF = ("\\infty", "-\\infty")


def fraction(integer: str, pre: str, period: str) -> str:
    """`integer.pre(period)` as a reduced fraction string: 0.1(6) -> \\frac{1}{6}."""
    num = int(integer + pre + period or "0") - int(integer + pre or "0")
    den = 10 ** len(pre) * (10 ** len(period) - 1)
    g = math.gcd(num, den)
    num, den = num // g, den // g
    return str(num) if den == 1 else f"\\frac{{{num}}}{{{den}}}"


def _ellipsis(sign: str, integer: str, digits: str) -> Optional[str]:
    """0.1666... -> 1/6: the shortest period (<= 6 digits) that ends the digits at least twice."""
    for p in range(1, min(6, len(digits) // 2) + 1):
        period, reps = digits[-p:], 1
        while digits[: len(digits) - p * reps].endswith(period):
            reps += 1
        if reps >= 2:
            return sign + fraction(integer, digits[: len(digits) - p * reps], period)
    return None


def repeating_decimals(s: str) -> str:
    def overline(m: re.Match) -> str:
        period = m.group(3) + (m.group(4) + m.group(5) if m.group(5) else "")
        return fraction(m.group(1), m.group(2), period)

    s = _OVERLINE_RE.sub(overline, s)
    m = _PAREN_REP_RE.fullmatch(s)  # whole answer only: elsewhere 2.5(3) may be a product
    if m:
        return m.group(1) + fraction(m.group(2), m.group(3), m.group(4))
    m = _ELLIPSIS_RE.fullmatch(s)
    return (_ellipsis(*m.groups()) or s) if m else s


def _interval(part: str) -> Optional[tuple[str, str]]:
    """(variable, interval) of one inequality chain `A op x op B` / `x op B` / `A op x`; None if it is not one."""
    bits = _REL_RE.split(part)
    operands, ops = [b.strip() for b in bits[::2]], bits[1::2]
    if len(ops) not in (1, 2) or not all(operands):
        return None
    vars_at = [i for i, o in enumerate(operands) if _VAR_RE.fullmatch(o) and o not in "ei"]
    if len(vars_at) != 1 or (len(ops) == 2 and vars_at != [1]):
        return None
    if any(_VAR_RE.fullmatch(o) for i, o in enumerate(operands) if i != vars_at[0]):
        return None  # `x < y`: two variables, no interval
    less = [o in ("<", "<=") or o.startswith("\\le") for o in ops]
    if len(set(less)) != 1:
        return None
    var, lo, hi, lo_closed, hi_closed = operands[vars_at[0]], "-\\infty", "\\infty", False, False
    for k, op in enumerate(ops):
        closed = op in ("<=", ">=") or op.endswith(("q", "qslant")) or op in ("\\le", "\\ge")
        left, right = operands[k], operands[k + 1]
        bound, var_left = (right, True) if left == var else (left, False)
        if less[0] == var_left:  # x < B  or  B > x: an upper bound
            hi, hi_closed = bound, closed
        else:
            lo, lo_closed = bound, closed
    lo_closed, hi_closed = lo_closed and lo not in _INF, hi_closed and hi not in _INF
    return var, f"{'[' if lo_closed else '('}{lo}, {hi}{']' if hi_closed else ')'}"


def inequality_to_interval(s: str) -> str:
    """A whole answer that is a one-variable inequality (or a disjunction of them) -> its interval / union."""
    m = re.fullmatch(r"[a-zA-Z]\s*\\in\s*(.+)", s)
    if m:
        s = m.group(1).strip()
    if re.fullmatch(r"\\mathbb\s*\{?R\}?", s):
        return "(-\\infty, \\infty)"
    if not _REL_RE.search(s):
        return s
    parts = [_interval(p) for p in _OR_RE.split(s)]
    if not all(parts) or len({v for v, _ in parts}) != 1:
        return s
    return " \\cup ".join(iv for _, iv in parts)


def constants(s: str) -> str:
    for pat, rep in _CONST_RES:
        s = pat.sub(rep, s)
    return s


def canonical_forms(s: str) -> str:
    """Constants and inequalities (repeating_decimals runs earlier, before trailing dots are stripped)."""
    return inequality_to_interval(constants(s))
