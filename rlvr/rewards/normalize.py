"""String normalization applied to both the extracted answer and the gold before math-verify parses them.

Covers what math-verify 0.9 gets wrong or lacks (each case has an accept and a reject test in
tests/unit/test_rewards_normalize.py): e-notation (`4.5e33` parses as 4.5·e·33 with Euler's e), thousands
separators (`1\\,000` parses as 1·0), `\\varnothing`, unicode math (`√`, `°`, `π`, `−`), python-ish Minerva golds
(`-1./3`, `np.arcsin`), trailing text units, multiple-choice letters (`\\textbf{(C)}`), AIME leading zeros.
"""
from __future__ import annotations

import re
from typing import Optional

_UNICODE = {
    "−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ", "π": "\\pi ", "∞": "\\infty ",
    "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∅": "\\emptyset ", "°": "", "\u2009": " ", "\u00a0": " ",
}
_CHOICE_RE = re.compile(r"^\(?([A-E])\)?(?:$|[\s~:.,)]|\\[ ,;!quad])")
_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textrm|mbox)\s*\{([^{}]*)\}")
# a unit word after a number: "10 \text{ cm}", "5 dollars", "3\mbox{ inches}"
_UNITS = (
    "cm|mm|km|m|meters?|metres?|centimeters?|inches|inch|in|feet|foot|ft|yards?|miles?|mph|seconds?|sec|s|minutes?|"
    "min|hours?|hrs?|days?|weeks?|months?|years?|grams?|g|kg|kilograms?|pounds?|lbs?|ounces?|oz|liters?|litres?|L|ml|"
    "dollars?|cents?|units?|square units|sq units|degrees?|points?|students?|people|cups?|gallons?|pages?|marbles?|"
    "cookies|apples|books|coins|hats|eggs|ways|times|percent"
)
_TRAIL_TEXT_UNIT_RE = re.compile(r"(?<=[\d}.])\s*\\(?:text|mbox|mathrm)\s*\{\s*(?:" + _UNITS + r")(?:\^?\d)?\s*\}\s*$")
_TRAIL_UNIT_RE = re.compile(r"(?<=\d)\s+(?:" + _UNITS + r")\.?\s*$")
_ENOTATION_RE = re.compile(r"(?<![\w.\\])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d+)(?![\w.])")
_THOUSANDS_BRACED_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!|\\ |\\;)(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def unwrap_text(s: str) -> str:
    """`\\text{(C)}` -> `(C)` (repeatedly, innermost first)."""
    prev = None
    while prev != s:
        prev, s = s, _TEXT_WRAP_RE.sub(lambda m: m.group(1), s)
    return s


def choice_letter(s: str) -> Optional[str]:
    """Multiple-choice letter of an answer: `C`, `(C)`, `\\textbf{(C)}`, `(C) 12` -> `C`; else None."""
    m = _CHOICE_RE.match(unwrap_text(s).replace("$", "").strip())
    return m.group(1) if m else None


def normalize_answer(s: str) -> str:
    """Canonical LaTeX-ish form of an answer span (idempotent)."""
    s = s.strip()
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = re.sub(r"√\s*(\d+|[a-zA-Z]|\([^()]*\)|\{[^{}]*\})", lambda m: "\\sqrt{" + m.group(1).strip("{}") + "}", s)
    s = s.replace("√", "\\sqrt")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace("\\varnothing", "\\emptyset")
    s = re.sub(r"^\\\{\s*\\\}$", r"\\emptyset", s)  # \{\} is the empty set too
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|\^\s*\{?\s*o\s*\}?(?=\s*$)", "", s)  # degrees
    s = re.sub(r"\\?%|\\\$|\$", "", s)  # percent / dollar signs (math-verify treats 9% == 9 anyway)
    s = re.sub(r"\b(?:np|math)\.", "", s)  # python-ish Minerva golds: np.arcsin(10/13)
    s = re.sub(r"(?<![\\a-zA-Z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|log|ln|exp)(?=\()", r"\\\1", s)
    s = re.sub(r"(\d)\./", r"\1/", s)  # -1./3 -> -1/3
    s = _THOUSANDS_BRACED_RE.sub("", s)  # 1{,}000  1\,000  1\!000
    if _PLAIN_THOUSANDS_RE.match(s):  # whole answer is "58,500" (a tuple would have spaces or != 3 digits)
        s = s.replace(",", "")
    s = _ENOTATION_RE.sub(lambda m: f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}", s)
    s = _TRAIL_TEXT_UNIT_RE.sub("", s)
    s = _TRAIL_UNIT_RE.sub("", s)
    if re.fullmatch(r"0+\d+", s):  # AIME "033" -> "33"
        s = s.lstrip("0")
    return s.strip().rstrip(".").strip()
