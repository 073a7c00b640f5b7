"""Answer extraction (pure string code, no pool): each rule accepted and rejected."""
from __future__ import annotations

import pytest

from rlvr.rewards.extract import extract_alternatives, extract_answer, last_boxed, strip_thinking


@pytest.mark.parametrize("response, expected", [
    # only the text after </think> counts
    ("<think>try \\boxed{7}</think>So \\boxed{5}.", "5"),
    ("<think>the answer is \\boxed{7}</think>", None),  # answer only inside the thinking
    ("<think>\\boxed{7} still thinking", None),  # thinking never closed (truncated)
    ("reasoning in the prompt's think block</think> \\boxed{5}", "5"),  # R1 template: <think> is in the prompt
    # the LAST box wins (self-correction), not the set of all boxes
    ("\\boxed{2} ... wait, no. \\boxed{3}", "3"),
    ("\\fbox{12}", "12"),
    ("\\boxed 7 is it", "7"),
    ("\\boxed{\\frac{1}{2}} and {braces}", "\\frac{1}{2}"),
    ("\\boxed{a \\{1\\} b}", "a \\{1\\} b"),
    # boxes separated only by separators form one answer; the same box twice is one answer; a hedge is none
    ("The roots are \\boxed{2}, \\boxed{3}.", "2, 3"), ("$x=\\boxed{1}$ and $y=\\boxed{2}$", "1, 2"),
    ("\\boxed{5}\\boxed{5}", "5"), ("\\boxed{2} or \\boxed{3}", None), ("\\boxed{2}, or maybe \\boxed{3}", None),
    ("\\boxed{2}. Wait, I redid it: \\boxed{3}", "3"), ("\\boxed{\\boxed{5}}", "\\boxed{5}"),
    ("\\boxed{1} " + "x" * 100 + " \\boxed{2}", "2"),  # far apart: separate statements
    # an unclosed last box (truncated response) gives no answer, even after a closed one
    ("\\boxed{2} hmm, actually \\boxed{\\frac{3}{", None),
    ("\\boxed{}", None),
    # <answer> tags, phrases
    ("<think>x</think><answer> 17 </answer>", "17"),
    ("<think>x</think><answer>so $\\boxed{18}$</answer>", "18"),
    ("<answer>17", None),
    ("Thus the final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
    ("The final answer is: 42.", "42"),
    ("So the answer is 9 apples", "9 apples"),
    ("work...\nAnswer: 9", "9"),
    ("48/2 = 24\n#### 72", "72"),
    ("the final answer is 1\nbut then the answer is 2", "2"),  # last phrase
    ("**Final Answer:** 42", "42"), ("Answer: **1,024**.", "1,024"), ("**Final answer**: 9", "9"),  # markdown
    ("Final Answer: The final answer is $6$. I hope it is correct.", "6"),  # Minerva template
    ("The final answer is 7,000. I hope it is correct.", "7,000"), ("The answer is $\\$1,250$.", "\\$1,250"),
    # no marker: never fall back to the last number (it is usually copied from the question)
    ("She had 48 clips and sold half, so 48 + 24 = 72", None),
    ("", None),
])
def test_extract_answer(response, expected):
    assert extract_answer(response) == expected


def test_strip_thinking_and_last_boxed_helpers():
    assert strip_thinking("a</think>b</think>c") == "c"
    assert strip_thinking("plain") == "plain"
    assert last_boxed("no box") == (False, None)
    assert last_boxed("\\boxed{1") == (True, None)


def test_long_and_deep_inputs_are_linear():
    assert extract_answer("x " * 50_000 + "\\boxed{2}") == "2"  # 100 kB
    deep = "\\boxed{" + "{" * 50 + "1" + "}" * 50 + "}"
    assert extract_answer(deep) == "{" * 50 + "1" + "}" * 50
    assert extract_answer("\\boxed{" + "x" * 5000 + "}") is None  # degenerate "answer" (> MAX_ANSWER_CHARS)


def test_hedge_alternatives():
    assert extract_alternatives("\\boxed{2} or maybe \\boxed{3}") == ["2", "3"]
    assert extract_alternatives("\\boxed{1}, \\boxed{2} or \\boxed{3}") == ["1, 2", "3"]
    assert extract_alternatives("\\boxed{4} or \\boxed{4}") == ["4"]  # the same answer twice is no hedge
    assert extract_alternatives("\\boxed{2}, \\boxed{3}") == ["2, 3"]
    assert extract_alternatives("no answer") is None
    assert extract_answer("\\boxed{" + " " * 50_000 + "5" + " " * 50_000 + "}") == "5"  # padding is not length
