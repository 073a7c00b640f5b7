"""Answer extraction for reasoning-model responses: which span of the response is "the answer".

Rules (in order), all applied to the text after the last `</think>` when the response has one:
  1. the LAST run of `\\boxed{...}` / `\\fbox{...}`: boxes separated only by commas, "and", math delimiters,
     spacing or `x =` together form one answer (`\\boxed{2}, \\boxed{3}` -> `2, 3`; the same box twice is one
     answer); boxes separated by reasoning count singly, the last one wins (self-correction: "\\boxed{2} ... wait
     ... \\boxed{3}" means 3); a hedge between boxes ("\\boxed{2} or \\boxed{3}", "either ... or", "maybe", "/")
     gives several alternatives, and math.py counts it right only when every one is (`\\boxed{15\\frac{39}{40}}
     or \\boxed{\\frac{639}{40}}` is fine, `\\boxed{2} or \\boxed{3}` scores 0 whatever the gold). If the last box
     is never closed (truncated response) there is no answer;
  2. the last `<answer>...</answer>` (R1 template);
  3. the last "final answer is X" / "the answer is X" / "Answer: X" / "#### X" phrase, X up to the end of its line
     (markdown bold around it is dropped).
No marker -> no answer. We never fall back to "the last number in the text": a response with no declared
answer usually just restates numbers from the question ("we have 3 apples and 4 pears ..."), and grading the
last of those rewards copying the question (a well-known reward hack of last-number extractors).
A response that opens `<think>` but never closes it is unfinished thinking -> no answer.
Everything here is linear in the response length (bounded regexes, one brace scan per outermost box).
"""
from __future__ import annotations

import re
from typing import Optional

from rlvr.rewards.normalize import compact

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
# "the final answer is: $5$." / "Answer: 5" / "#### 5" -- X runs to the end of its line (bounded: linear time)
_PHRASE_RE = re.compile(
    r"(?:final\s+answer\**\s*(?:is|:)|the\s+answer\s+is|\banswer\**\s*:|^\s*####)\s*:?\s*([^\n]{1,300})",
    re.IGNORECASE | re.MULTILINE,
)
MAX_ANSWER_CHARS = 1000  # longer "answers" (after `compact`) are degenerate or adversarial: no answer
MAX_GAP = 80  # boxes further apart than this are separate statements, not one answer
# what may stand between boxes of one answer: , ; & and, math delimiters, spacing, `x =` / `x_1 =`
_SEP_RE = re.compile(r"(?:[\s$,;&]|\\[()\[\],;:! ]|\\q?quad|\\\\|and|\\text\{\s*(?:and|,)\s*\}|\\mathrm\{and\}"
                     r"|[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=)*")
# a hedge: a gap of nothing but separators, brackets / punctuation and at least one word of doubt
_HEDGE_WORD_RE = re.compile(r"(?<![a-zA-Z])(?:or|either|maybe|perhaps|possibly|probably)(?![a-zA-Z])"
                            r"|\\lor(?![a-zA-Z])|\\vee(?![a-zA-Z])|/", re.IGNORECASE)
_HEDGE_GAP_RE = re.compile(r"(?:[\s$,;&?.()/]|\\[()\[\],;:! ]|\\text\{|\}|\\lor|\\vee|[a-zA-Z]+)*")
_DOUBT = {"or", "either", "maybe", "perhaps", "possibly", "probably", "\\lor", "\\vee", "/", "\\text"}


def strip_thinking(text: str) -> Optional[str]:
    """Text after the last `</think>`; the whole text if there is no think block; None if thinking never ended."""
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE):]
    if THINK_OPEN in text:
        return None
    return text


def _braced(text: str, open_idx: int) -> Optional[str]:
    """Content of the brace group whose `{` is at text[open_idx]; None if it is never closed."""
    depth = 0
    for i in range(open_idx, len(text)):
        c = text[i]
        if c == "{" and text[i - 1] != "\\":
            depth += 1
        elif c == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1:i]
    return None


def _is_hedge_gap(gap: str) -> bool:
    """Only separators, punctuation and words of doubt between two boxes ("or maybe", "(or", "\\text{ or }")."""
    words = re.findall(r"\\?[a-zA-Z]+|/", gap)
    return bool(_HEDGE_GAP_RE.fullmatch(gap)) and all(w.lower() in _DOUBT for w in words)


def _boxes(text: str) -> list[tuple[int, int, Optional[str]]]:
    """(start, end, content) of each outermost box; content None for an unclosed box (it runs to the end).
    Boxes nested in a box are part of its content (the normaliser unwraps them), so each char is scanned once."""
    out, end = [], 0
    for m in _BOX_RE.finditer(text):
        if m.start() < end:
            continue
        if m.group(1):  # \boxed{...}
            content = _braced(text, m.start(1))
            end = len(text) if content is None else m.start(1) + len(content) + 2
        else:  # `\boxed 5` (no braces) -- one token
            rest = re.match(r"\s*([^\s$]+)", text[m.end():m.end() + MAX_ANSWER_CHARS])
            content = rest.group(1) if rest else None
            end = m.end() + (rest.end() if rest else 0)
        out.append((m.start(), end, content))
    return out


def boxed_answers(text: str) -> tuple[bool, Optional[list[str]]]:
    """(found_a_box, the last run of boxes as alternatives; see module docstring). One alternative normally;
    several for a hedge ("\\boxed{2} or \\boxed{3}" -> ["2", "3"]). None when the last box is unclosed or empty."""
    boxes = _boxes(text)
    if not boxes:
        return False, None
    if boxes[-1][2] is None:
        return True, None
    groups = [[boxes[-1][2]]]  # alternatives, each a list of boxes that together form one answer
    for n in range(len(boxes) - 2, -1, -1):
        prev, gap = boxes[n], text[boxes[n][1]:boxes[n + 1][0]]
        if len(gap) > MAX_GAP:
            break
        if _SEP_RE.fullmatch(gap):
            groups[0].insert(0, prev[2])
        elif _HEDGE_WORD_RE.search(gap) and _is_hedge_gap(gap):
            groups.insert(0, [prev[2]])
        else:
            break
    alts = [", ".join(dict.fromkeys(c.strip() for c in g if c.strip())) for g in groups]  # a box twice: once
    alts = list(dict.fromkeys(a for a in alts if a))
    return True, alts or None


def last_boxed(text: str) -> tuple[bool, Optional[str]]:
    """(found_a_box, the answer of the last run of boxes); None for an unclosed box or a hedge."""
    found, alts = boxed_answers(text)
    return found, alts[0] if alts and len(alts) == 1 else None


def _clean_phrase(x: str) -> str:
    x = x.strip(" \t*")  # markdown bold: "**Answer:** 42", "Answer: **42**"
    for pat in (r"^\$+((?:\\.|[^$\\])*)\$", r"^\\\((.*?)\\\)", r"^\\\[(.*?)\\\]"):
        m = re.match(pat, x)
        if m:  # "$5$, since ..." -> the math span only
            return m.group(1).strip()
    x = re.split(r"\.\s+(?=[A-Z])", x, maxsplit=1)[0]  # "7,000. I hope it is correct."
    return re.sub(r"[\s.。*]+$", "", x).strip().rstrip("$").strip()


def extract_alternatives(response: str) -> Optional[list[str]]:
    """The answer span(s) of a model response (see module docstring): one span, several for a hedge between
    boxes (math.py counts a hedge right only when every alternative is), or None when it declares none."""
    text = strip_thinking(response)
    if text is None:
        return None
    found, alts = boxed_answers(text)
    if not found:
        tags = _ANSWER_TAG_RE.findall(text)
        if tags:
            ans = tags[-1].strip()
            found, alts = boxed_answers(ans)
            if not found:
                alts = [_clean_phrase(ans) if ans.startswith(("$", "\\(", "\\[")) else ans]
        else:
            phrases = _PHRASE_RE.findall(text)
            while phrases and _PHRASE_RE.search(phrases[-1]):  # "Final Answer: The final answer is 6."
                phrases = _PHRASE_RE.findall(phrases[-1])
            alts = [_clean_phrase(phrases[-1])] if phrases else None
    if not alts:
        return None
    alts = [compact(a) if len(a) > MAX_ANSWER_CHARS else a.strip() for a in alts]  # padding is not length
    return alts if all(a and len(a) <= MAX_ANSWER_CHARS for a in alts) else None


def extract_answer(response: str) -> Optional[str]:
    """The single answer span of a response, or None (no answer, or a hedge between several)."""
    alts = extract_alternatives(response)
    return alts[0] if alts and len(alts) == 1 else None
