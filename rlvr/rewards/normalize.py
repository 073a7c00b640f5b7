"""String normalization applied to both the extracted answer and the gold before math-verify parses them.

Every step is linear in the answer's length (no nested quantifiers; brace and parenthesis matching is one stack
pass), so no well-formed answer is lost to the deadline however it is padded or nested:
  * `compact`: whitespace runs, spacing commands (`\\,` `\\;` `\\quad` `~` ...), layout (`\\displaystyle`,
    `\\left` / `\\right`, `\\big`), repeated boxes (`\\boxed{\\boxed{5}}`);
  * `strip_groups`: braces that only group (`{{{5}}}`, `\\frac{{1}}{{2}}`) and doubled parentheses (`((5))`);
  * rlvr/rewards/forms.py: forms math-verify does not equate (repeating decimals, inequalities as intervals,
    constants and imaginary units in other notations).
Also covers what math-verify 0.9 gets wrong or lacks (each case has an accept and a reject test in
tests/unit/test_rewards_normalize.py): e-notation (`4.5e33` parses as 4.5·e·33 with Euler's e), thousands
separators (`1\\,000` parses as 1·0), `\\varnothing`, unicode math (`√`, `°`, `π`, `−`), python-ish Minerva
golds (`-1./3`, `np.arcsin`), trailing text units, multiple-choice letters (`\\textbf{(C)}`), AIME leading zeros.
"""
from __future__ import annotations

import re
from typing import Optional

from rlvr.rewards.forms import canonical_forms, repeating_decimals

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
_AREA = r"(?:(?:square|sq\.?|cubic)\s+)?"  # "10,000 square feet"
_TRAIL_TEXT_UNIT_RE = re.compile(r"(?<=[\d}.])\s*\\(?:text|mbox|mathrm)\s*\{\s*~?" + _AREA + "(?:" + _UNITS
                                 + r")(?:\^?\d)?\s*\}(?:\^\{?\d\}?)?\s*$")
_TRAIL_UNIT_RE = re.compile(r"(?<=\d)\s+" + _AREA + "(?:" + _UNITS + r")\.?\s*$")
_ENOTATION_RE = re.compile(r"(?<![\w.\\])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d+)(?![\w.])")
_THOUSANDS_BRACED_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!|\\ |\\;)(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:([, ])\d{3})(?:\1\d{3})*(?:\.\d+)?$")  # 58,500  1 000 000
# layout that never changes the value: sizes, \left / \right, spacing (\! is a negative space: joins)
_LAYOUT_RE = re.compile(r"(?<!\\)\\(?:displaystyle|textstyle|left|right|[bB]igg?[lrm]?)(?![a-zA-Z])|(?<!\\)\\!")
_SPACING_RE = re.compile(r"(?<!\\)\\(?:[,;: ]|q?quad(?![a-zA-Z]))|~")
_TEXT_NUMBER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{\s*\(?\s*(-?\d[\d.,]*)\s*\)?\s*\}")
_BOX_CMD_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])\s*")
_KEEP_BEFORE_BRACE = re.compile(r"[\w^_}\]'\\]")  # a `{` after these is an argument, not a grouping


def compact(s: str) -> str:
    """Whitespace, spacing, layout and repeated boxes away (thousands separators `1\\,000` first)."""
    s = _THOUSANDS_BRACED_RE.sub("", s)
    s = _LAYOUT_RE.sub("", s)
    s = _BOX_CMD_RE.sub("", s)  # \boxed{\boxed{5}}: the boxes' braces are then plain groups (strip_groups)
    s = _SPACING_RE.sub(" ", s)
    return " ".join(s.split())


def _pairs(s: str, opens: str, closes: str) -> Optional[dict[int, int]]:
    """open index -> close index of the (unescaped) bracket pairs; None when unbalanced. One stack pass."""
    stack, out = [], {}
    for i, c in enumerate(s):
        if i and s[i - 1] == "\\":
            continue
        if c in opens:
            stack.append(i)
        elif c in closes:
            if not stack:
                return None
            out[stack.pop()] = i
    return out if not stack else None


def strip_groups(s: str) -> str:
    """Drop braces that only group and parentheses that wrap a parenthesised group: `{{{5}}}` -> `5`,
    `\\frac{{1}}{{2}}` -> `\\frac{1}{2}`, `((((1, 2))))` -> `(1, 2)`. A `{` after a letter, digit, `^`, `_`, `}` or
    `]` is an argument (`\\frac{1}{2}`, `x^{2}`, `\\sqrt[3]{x}`) and stays. Linear: two stack passes."""
    if "{" in s and not re.search(r"\\(?:choose|over|atop|brace)(?![a-zA-Z])", s):
        pairs = _pairs(s, "{", "}")
        if pairs:
            drop = set()
            for i, j in pairs.items():
                k = i - 1 - (i > 0 and s[i - 1] == " ")
                if k < 0 or not _KEEP_BEFORE_BRACE.match(s[k]):
                    drop.update((i, j))
            s = " ".join("".join(c for n, c in enumerate(s) if n not in drop).split())
    if "((" in s or "( (" in s:
        pairs = _pairs(s, "([", ")]")
        if pairs:
            drop = set()
            for i, j in pairs.items():
                a, b = i + 1 + (s[i + 1] == " "), j - 1 - (s[j - 1] == " ")
                if s[i] == "(" and s[j] == ")" and s[a] == "(" and pairs.get(a) == b and s[b] == ")":
                    drop.update((i, j))
            s = " ".join("".join(c for n, c in enumerate(s) if n not in drop).split())
    return s


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
    s = compact(s)
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = repeating_decimals(strip_groups(s))  # before trailing dots go: 0.333...
    s = _TEXT_NUMBER_RE.sub(r"\1", s)  # \textbf{(073)} -> 073 (AoPS solutions)
    s = re.sub(r"√\s*(\d+|[a-zA-Z]|\([^()]*\)|\{[^{}]*\})", lambda m: "\\sqrt{" + m.group(1).strip("{}") + "}", s)
    s = s.replace("√", "\\sqrt")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace("\\varnothing", "\\emptyset")
    s = re.sub(r"^\\\{\s*\\\}$", r"\\emptyset", s)  # \{\} is the empty set too
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|\^\s*\{?\s*o\s*\}?(?=\s*$)", "", s)  # degrees
    s = re.sub(r"\\?%|\\\$|\$", "", s)  # percent / dollar signs (math.py grades p% as p and as p/100)
    s = re.sub(r"\b(?:np|math)\.", "", s)  # python-ish Minerva golds: np.arcsin(10/13)
    s = re.sub(r"(?<![\\a-zA-Z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|log|ln|exp)(?=\()", r"\\\1", s)
    s = re.sub(r"(\d)\./", r"\1/", s)  # -1./3 -> -1/3
    s = _ENOTATION_RE.sub(lambda m: f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}", s)
    s = _TRAIL_TEXT_UNIT_RE.sub("", s)
    s = _TRAIL_UNIT_RE.sub("", s).strip().rstrip(".").strip()
    s = _THOUSANDS_BRACED_RE.sub("", s)  # again: a unit may have hidden them (`1{,}000 \text{ cm}`)
    if _PLAIN_THOUSANDS_RE.match(s):  # whole answer is "58,500" / "1 000 000" (a tuple: != 3 digits or spaces)
        s = s.replace(",", "").replace(" ", "")
    if re.fullmatch(r"0+\d+", s):  # AIME "033" -> "33"
        s = s.lstrip("0")
    s = canonical_forms(strip_groups(s))  # again: the steps above may have left `{5}` or `((5))`
    return s.strip().rstrip(".").strip()
