"""Answer extraction for reasoning-model responses: which span of the response is "the answer".

Rules (in order), all applied to the text after the last `</think>` when the response has one:
  1. the LAST `\\boxed{...}` / `\\fbox{...}` (self-correction: "\\boxed{2} ... wait ... \\boxed{3}" means 3);
     if the last box is never closed (truncated response) there is no answer at all;
  2. the last `<answer>...</answer>` (R1 template);
  3. the last "final answer is X" / "the answer is X" / "Answer: X" / "#### X" phrase, X up to the end of its line.
No marker -> no answer. We never fall back to "the last number in the text": a response with no declared
answer usually just restates numbers from the question ("we have 3 apples and 4 pears ..."), and grading the
last of those rewards copying the question (a well-known reward hack of last-number extractors).
A response that opens `<think>` but never closes it is unfinished thinking -> no answer.
"""
from __future__ import annotations

import re
from typing import Optional

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
# "the final answer is: $5$." / "Answer: 5" / "#### 5" -- X runs to the end of its line (bounded: linear time)
_PHRASE_RE = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|the\s+answer\s+is|\banswer\s*:|^\s*####)\s*:?\s*([^\n]{1,300})",
    re.IGNORECASE | re.MULTILINE,
)
MAX_ANSWER_CHARS = 1000  # longer "answers" are degenerate (or adversarial); they score as no answer


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


def last_boxed(text: str) -> tuple[bool, Optional[str]]:
    """(found_a_box, content of the last box). Content None when the last box is unclosed (truncated)."""
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return False, None
    m = matches[-1]
    if m.group(1):  # \boxed{...}
        return True, _braced(text, m.start(1))
    rest = re.match(r"\s*([^\s$]+)", text[m.end():])  # `\boxed 5` (no braces) -- one token
    return True, rest.group(1) if rest else None


def _clean_phrase(x: str) -> str:
    x = x.strip()
    for pat in (r"^\$+(.*?)\$+", r"^\\\((.*?)\\\)", r"^\\\[(.*?)\\\]"):
        m = re.match(pat, x)
        if m:  # "$5$, since ..." -> the math span only
            return m.group(1).strip()
    return re.sub(r"[\s.。]+$", "", x).strip().rstrip("$").strip()


def extract_answer(response: str) -> Optional[str]:
    """The answer span of a model response (see module docstring), or None when it declares none."""
    text = strip_thinking(response)
    if text is None:
        return None
    found, box = last_boxed(text)
    if found:
        ans = box
    else:
        tags = _ANSWER_TAG_RE.findall(text)
        if tags:
            ans = tags[-1].strip()
            found_box, inner = last_boxed(ans)
            ans = inner if found_box else _clean_phrase(ans) if ans.startswith(("$", "\\(", "\\[")) else ans
        else:
            phrases = _PHRASE_RE.findall(text)
            ans = _clean_phrase(phrases[-1]) if phrases else None
    if ans is None or not ans.strip() or len(ans) > MAX_ANSWER_CHARS:
        return None
    return ans.strip()
