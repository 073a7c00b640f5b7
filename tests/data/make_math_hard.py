"""Writes math_hard.jsonl: a hard, mixed set of (response, gold, expected verdict) cases for the math verifier,
each labelled with its category and why it is hard. Labels are the mathematically right verdict, or the grading
policy README documents where a convention decides (hedges, multiple boxes, percent, no declared answer).
Run from the repo root: python tests/data/make_math_hard.py"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("math_hard.jsonl")
cases: list[dict] = []


def add(category: str, response: str, gold: str, expected: bool, why: str) -> None:
    cases.append({"id": f"{category}-{len(cases)}", "category": category, "response": response, "gold": gold,
                  "expected": expected, "why": why})


def say(ans: str) -> str:
    return "Working through the algebra step by step, we conclude that the answer is \\boxed{" + ans + "}."


# --- nested / padded: cheap normalisation decides what math-verify would spend its deadline on
WHY_BRACE = "redundant braces: math-verify nests sets per brace level and runs into its deadline"
for depth in (3, 8, 20, 50):
    for ans, gold in (("5", "5"), ("\\frac{1}{2}", "0.5"), ("2\\sqrt{3}", "\\sqrt{12}"), ("-7", "-7")):
        add("nested", say("{" * depth + ans + "}" * depth), gold, True, f"{WHY_BRACE} (depth {depth})")
    add("nested", say("{" * depth + "6" + "}" * depth), "5", False, f"{WHY_BRACE}; wrong value (depth {depth})")
add("nested", say("\\frac{" + "{" * 10 + "1" + "}" * 10 + "}{" + "{" * 10 + "2" + "}" * 10 + "}"), "\\frac12", True,
    WHY_BRACE + " inside a fraction")
add("nested", say("\\sqrt{" + "{" * 12 + "3" + "}" * 12 + "}"), "\\sqrt3", True, WHY_BRACE + " inside a root")
add("nested", say("{" * 30 + "\\frac{3}{4}" + "}" * 30), "\\frac{3}{5}", False, WHY_BRACE + "; wrong value")
WHY_PAREN = "redundant parentheses: every level multiplies math-verify's parse time"
for depth in (3, 10, 25, 40):
    add("nested", say("(" * depth + "5" + ")" * depth), "5", True, f"{WHY_PAREN} (depth {depth})")
    add("nested", say("(" * depth + "4" + ")" * depth), "5", False, f"{WHY_PAREN}; wrong value (depth {depth})")
add("nested", say("((((((((1, 2))))))))"), "(1,2)", True, WHY_PAREN + " around a tuple")
add("nested", say("((((((((2, 1))))))))"), "(1,2)", False, WHY_PAREN + " around a tuple; order matters")
for depth in (10, 30):
    add("nested", say("\\left(" * depth + "5" + "\\right)" * depth), "5", True, f"\\left( \\right) pairs (depth {depth})")
add("nested", say("\\left[\\left[\\left[\\left[\\frac{1}{2}\\right]\\right]\\right]\\right]"), "\\frac12", True,
    "\\left[ \\right] pairs that only group")
WHY_BOX = "repeated boxes around one answer"
add("nested", "So \\boxed{\\boxed{\\boxed{5}}}.", "5", True, WHY_BOX)
add("nested", "So " + "\\boxed{" * 30 + "\\frac{2}{3}" + "}" * 30 + ".", "\\frac23", True, WHY_BOX + " (30 deep)")
add("nested", "So " + "\\boxed{" * 30 + "\\frac{2}{5}" + "}" * 30 + ".", "\\frac23", False, WHY_BOX + "; wrong value")
add("nested", "So \\fbox{\\boxed{12}}.", "12", True, WHY_BOX + " (\\fbox)")
WHY_PAD = "padding: whitespace or spacing commands inside the box, or a very long response"
add("nested", "The answer is \\boxed{" + " " * 50_000 + "5" + " " * 50_000 + "}.", "5", True, WHY_PAD + " (100 kB)")
add("nested", "The answer is \\boxed{" + "\n" * 5000 + "\\frac{1}{4}" + "\n" * 5000 + "}.", "0.25", True, WHY_PAD)
add("nested", "The answer is \\boxed{5" + "\\," * 3000 + "}", "5", True, WHY_PAD + " (3000 \\,)")
add("nested", "The answer is \\boxed{" + "\\quad " * 2000 + "7" + "\\; " * 2000 + "}", "7", True, WHY_PAD)
add("nested", "The answer is \\boxed{" + "~" * 5000 + "8}", "8", True, WHY_PAD + " (~)")
add("nested", "so " * 33_000 + "the answer is \\boxed{7}.", "7", True, WHY_PAD + " (100 kB of text first)")
add("nested", "so " * 33_000 + "the answer is \\boxed{7}.", "8", False, WHY_PAD + "; wrong value")
add("nested", "The answer is \\boxed{\\frac{1}{2}}." + " " * 100_000, "\\frac12", True, WHY_PAD + " (trailing)")
add("nested", "The answer is \\boxed{" + " " * 20_000 + "\\frac{1}{3}" + " " * 20_000 + "}.", "\\frac12", False,
    WHY_PAD + "; wrong value")
add("nested", "The answer is \\boxed{\\displaystyle\\displaystyle\\displaystyle \\frac{5}{2}}", "2.5", True,
    "layout-only commands")
add("nested", say("{{{{(((( \\left( 9 \\right) ))))}}}}"), "9", True, "braces, parentheses and \\left( mixed")

# --- deadline bait: the deadline decides, a wrong answer scores 0 and nothing blocks; identical is cheap
WHY_BAIT = "deadline bait: sympy would evaluate a huge number; must score 0 within the deadline"
for ans in ("10^{10^{10^{10}}}", "9^{9^{9^{9}}}", "(10^{10^{8}})!", "2^{2^{2^{2^{2^{2}}}}}"):
    add("deadline_bait", say(ans), "1", False, WHY_BAIT)
add("deadline_bait", say("{" * 50 + "10^{10^{10^{10}}}" + "}" * 50), "1", False, WHY_BAIT + " inside 50 braces")
add("deadline_bait", say("10^{10^{10}}"), "10^{10^{10}}", True, "identical huge answers: equal without evaluating")
add("deadline_bait", say("{{{{9^{9^{9}}}}}}"), "9^{9^{9}}", True, "identical after brace stripping; never evaluated")

# --- repeating decimals: math-verify reads \overline{3} as a symbol
WHY_REP = "repeating decimal"
for resp, gold, ok, note in [
    ("0.\\overline{3}", "\\frac{1}{3}", True, "\\overline"), ("0.\\overline{6}", "\\frac23", True, "\\overline"),
    ("0.1\\overline{6}", "\\frac16", True, "pre-period digits"), ("0.\\overline{142857}", "\\frac17", True, "long period"),
    ("1.\\overline{3}", "\\frac43", True, "integer part"), ("0.\\overline{09}", "\\frac{1}{11}", True, "leading 0 in period"),
    ("2.\\overline{45}", "\\frac{27}{11}", True, "two-digit period"), ("-0.\\overline{3}", "-\\frac13", True, "negative"),
    ("0.\\overline{9}", "1", True, "0.999... = 1"), ("0.58\\overline{3}", "\\frac{7}{12}", True, "pre-period digits"),
    (".\\overline{3}", "\\frac13", True, "no leading zero"), ("0.\\dot{3}", "\\frac13", True, "\\dot notation"),
    ("0.\\dot{1}\\dot{8}", "\\frac{2}{11}", True, "\\dot on first and last digit of the period"),
    ("0.(3)", "\\frac13", True, "parenthesis notation"), ("0.1(6)", "\\frac16", True, "parenthesis notation"),
    ("0.333\\ldots", "\\frac13", True, "\\ldots"), ("0.1666\\ldots", "\\frac16", True, "\\ldots"),
    ("0.142857142857\\ldots", "\\frac17", True, "\\ldots, long period"), ("0.3333...", "\\frac13", True, "dots"),
    ("\\frac{4}{11}", "0.\\overline{36}", True, "repeating gold, fraction response"),
    ("\\frac{2}{3}", ".\\overline{6}", True, "repeating gold without leading zero"),
    ("0.\\overline{36}", "0.363636", True, "6-decimal float gold (math-verify's rounding)"),
    ("0.\\overline{3}", "\\frac{3}{10}", False, "not 3/10"), ("0.\\overline{3}", "0.3", False, "not 0.3"),
    ("0.\\overline{6}", "\\frac13", False, "wrong value"), ("0.1\\overline{6}", "\\frac{1}{7}", False, "wrong value"),
    ("0.\\overline{12}", "\\frac{12}{100}", False, "period is not a terminating decimal"),
    ("0.(3)", "0.3", False, "parenthesis notation is not 0.3"), ("0.33", "0.\\overline{3}", False, "rounded too far"),
    ("0.\\overline{142857}", "\\frac18", False, "wrong value"), ("0.1\\overline{3}", "\\frac13", False, "0.1333.. is 2/15"),
    ("0.\\overline{3}", "0.\\overline{6}", False, "both repeating, different"),
]:
    add("repeating_decimal", say(resp), gold, ok, f"{WHY_REP}: {note}")

# --- intervals written as inequalities (and back): one-variable inequalities are the interval they describe
WHY_INT = "interval written as an inequality"
for resp, gold, ok, note in [
    ("x \\le 2", "(-\\infty, 2]", True, "\\le"), ("x < 2", "(-\\infty,2)", True, "<"),
    ("x \\geq -1", "[-1, \\infty)", True, "\\geq"), ("x > 3", "(3,\\infty)", True, ">"),
    ("2 < x \\le 5", "(2,5]", True, "chain"), ("-1 \\le x \\le 1", "[-1,1]", True, "chain"),
    ("5 \\ge x > 2", "(2,5]", True, "descending chain"), ("2 > x", "(-\\infty, 2)", True, "variable on the right"),
    ("x<1 \\text{ or } x>3", "(-\\infty,1)\\cup(3,\\infty)", True, "union via 'or'"),
    ("x \\le -2 \\text{ or } x \\ge 2", "(-\\infty,-2] \\cup [2,\\infty)", True, "union via 'or'"),
    ("x < 1 \\lor x > 3", "(-\\infty,1)\\cup(3,\\infty)", True, "union via \\lor"),
    ("x < \\frac{1}{2}", "(-\\infty, \\frac12)", True, "fraction bound"),
    ("t \\geq \\sqrt{2}", "[\\sqrt2, \\infty)", True, "other variable, root bound"),
    ("-\\infty < x < \\infty", "(-\\infty,\\infty)", True, "all reals"),
    ("x \\in \\mathbb{R}", "(-\\infty,\\infty)", True, "all reals"),
    ("x \\in (2, 5]", "(2,5]", True, "membership"), ("x\\leq2", "(-\\infty,2]", True, "no spaces"),
    ("x ≤ 2", "(-\\infty,2]", True, "unicode ≤"), ("-3 < y < 3", "(-3, 3)", True, "other variable"),
    ("(-\\infty, 2]", "x \\le 2", True, "interval response, inequality gold"),
    ("[3, 5)", "3 \\le x < 5", True, "interval response, inequality gold"),
    ("(-\\infty, 1) \\cup (3, \\infty)", "x<1 \\text{ or } x>3", True, "union response, inequality gold"),
    ("x \\ge 4", "x \\geq 4", True, "both inequalities"),
    ("x < 2", "(-\\infty, 2]", False, "open vs closed endpoint"), ("x \\le 2", "(-\\infty,2)", False, "closed vs open"),
    ("x > 2", "(-\\infty,2)", False, "wrong side"), ("2 \\le x < 5", "(2,5]", False, "endpoints swapped"),
    ("x<1 \\text{ or } x>3", "(1,3)", False, "complement"), ("x \\ge 3", "(3, \\infty)", False, "closed vs open"),
    ("-1 < x < 1", "[-1,1]", False, "open vs closed"), ("x \\le 2", "2", False, "a bound is not a number"),
    ("(2, 5]", "2 < x < 5", False, "closed vs open"), ("x > -1", "[-1, \\infty)", False, "open vs closed"),
]:
    add("interval_inequality", say(resp), gold, ok, f"{WHY_INT}: {note}")

# --- special constants and imaginary units in other notations
WHY_CONST = "constant / imaginary unit in another notation"
for resp, gold, ok, note in [
    ("3+4\\mathrm{i}", "3+4i", True, "\\mathrm{i}"), ("\\mathrm{e}^2", "e^2", True, "\\mathrm{e}"),
    ("2\\mathrm{e}", "2e", True, "\\mathrm{e}"), ("\\exp(1)", "e", True, "\\exp(1)"),
    ("\\mathrm{i}\\sqrt{3}", "i\\sqrt3", True, "\\mathrm{i}"), ("-\\mathrm{i}", "-i", True, "\\mathrm{i}"),
    ("2 - \\operatorname{i}", "2-i", True, "\\operatorname{i}"), ("1+\\text{i}", "1+i", True, "\\text{i}"),
    ("5\\textrm{i}", "5i", True, "\\textrm{i}"), ("\\imath", "i", True, "\\imath"),
    ("\\sqrt{-1}", "i", True, "sqrt(-1)"), ("2+\\sqrt{-9}", "2+3i", True, "sqrt of a negative"),
    ("e^{i\\pi}", "-1", True, "Euler's identity"), ("\\mathrm{e}^{\\mathrm{i}\\pi}", "-1", True, "upright e and i"),
    ("\\mathrm{\\pi}", "\\pi", True, "upright pi"), ("\\uppi/2", "\\frac{\\pi}{2}", True, "\\uppi"),
    ("π/2", "\\frac{\\pi}{2}", True, "unicode π"), ("i+1", "1+i", True, "order"), ("(1+i)^2", "2i", True, "expanded"),
    ("\\infty", "\\infty", True, "infinity"), ("+\\infty", "\\infty", True, "+infinity"), ("∞", "\\infty", True, "∞"),
    ("-\\infty", "-\\infty", True, "-infinity"), ("\\mathrm{e}^{-1}", "\\frac{1}{e}", True, "\\mathrm{e}"),
    ("3+4\\mathrm{i}", "3-4i", False, "conjugate"), ("\\mathrm{e}^2", "e^3", False, "wrong power"),
    ("\\sqrt{-1}", "1", False, "i is not 1"), ("\\mathrm{i}", "-i", False, "sign"), ("\\infty", "-\\infty", False, "sign"),
    ("e", "\\pi", False, "different constants"), ("2\\mathrm{e}", "2", False, "e is not a unit"),
    ("\\imath", "1", False, "i is not 1"), ("\\mathrm{e}^{\\mathrm{i}\\pi}", "1", False, "e^{i pi} = -1"),
]:
    add("constants", say(resp), gold, ok, f"{WHY_CONST}: {note}")

# --- several boxes that together form the gold (and the last box after a self-correction)
WHY_MULTI = "several boxes that together form the gold"
for resp, gold, ok, note in [
    ("The solutions are \\boxed{2}, \\boxed{3}.", "2, 3", True, "comma"),
    ("The solutions are \\boxed{2} and \\boxed{3}.", "2,3", True, "'and'"),
    ("The solutions are \\boxed{3}, \\boxed{2}.", "2, 3", True, "a solution list is a set"),
    ("So $x = \\boxed{2}$ and $x = \\boxed{-3}$.", "2, -3", True, "assignments in math mode"),
    ("The roots: \\boxed{1}, \\boxed{2}, \\boxed{4}", "1, 2, 4", True, "three boxes"),
    ("We get \\boxed{\\frac12}; \\boxed{3}", "\\frac12, 3", True, "semicolon"),
    ("\\boxed{2} \\text{ and } \\boxed{3}", "2, 3", True, "\\text{ and }"),
    ("$\\boxed{-1}$, $\\boxed{1}$", "-1, 1", True, "separate math spans"),
    ("\\boxed{2},\\quad \\boxed{3}", "2,3", True, "\\quad"),
    ("x_1 = \\boxed{2}, x_2 = \\boxed{5}", "2, 5", True, "indexed assignments"),
    ("The answer is \\boxed{5}\\boxed{5}", "5", True, "the same box twice is one answer"),
    ("The answer is \\boxed{5} \\quad \\boxed{5}.", "5", True, "the same box twice is one answer"),
    ("\\boxed{7}, \\boxed{7}, \\boxed{7}", "7", True, "the same box three times"),
    ("The solutions are \\boxed{2}, \\boxed{3}.", "2", False, "two answers for one gold"),
    ("The solutions are \\boxed{2}, \\boxed{3}.", "2, 3, 4", False, "a solution missing"),
    ("The solutions are \\boxed{2}, \\boxed{5}.", "2, 3", False, "one solution wrong"),
    ("First \\boxed{2}. Wait, I made an arithmetic error; redoing it gives \\boxed{3}.", "3", True, "self-correction"),
    ("First \\boxed{2}. Wait, I made an arithmetic error; redoing it gives \\boxed{3}.", "2", False,
     "self-correction: the last box counts"),
    ("So \\boxed{12}.\n\nTherefore, the final answer is \\boxed{12}.", "12", True, "restated answer"),
    ("We found \\boxed{4} before. Checking the case n = 2 again, the answer is \\boxed{6}.", "4", False,
     "boxes separated by reasoning: the last counts"),
]:
    add("multi_box", resp, gold, ok, f"{WHY_MULTI}: {note}")

# --- hedges between boxes: no single answer, scores 0 whatever the gold
WHY_HEDGE = "hedge between boxes is no answer"
for resp, gold in [
    ("\\boxed{2} or \\boxed{3}", "2"), ("\\boxed{2} or \\boxed{3}", "3"), ("\\boxed{2} or \\boxed{3}", "2, 3"),
    ("It is either \\boxed{2} or \\boxed{3}.", "3"), ("\\boxed{2} / \\boxed{3}", "3"),
    ("\\boxed{2}, or maybe \\boxed{3}", "3"), ("\\boxed{2} or possibly \\boxed{3}", "2"),
    ("\\boxed{2} \\text{ or } \\boxed{3}", "3"), ("The answer is \\boxed{A} or \\boxed{B}.", "B"),
    ("\\boxed{5} (or \\boxed{6})", "5"), ("\\boxed{2} \\lor \\boxed{3}", "3"),
    ("So \\boxed{2}? Or perhaps \\boxed{3}.", "3"), ("\\boxed{\\frac12} or \\boxed{\\frac13}", "\\frac13"),
    ("The answer is probably \\boxed{4}, or \\boxed{5}", "5"), ("$\\boxed{1}$ or $\\boxed{-1}$", "-1"),
    ("\\boxed{10} \\vee \\boxed{20}", "20"),
]:
    add("hedge", resp, gold, False, WHY_HEDGE)

# --- thousands separators outside a box
WHY_K = "thousands separator outside a box"
for resp, gold, ok, note in [
    ("The answer is 1,234,567.", "1234567", True, "commas"), ("Answer: 12,000", "12000", True, "Answer:"),
    ("48 + 24 = 72\n#### 1,000", "1000", True, "GSM8K ####"),
    ("The final answer is $\\$1,250$.", "1250", True, "dollar sign in math mode"),
    ("The answer is 1,000,000 dollars.", "1000000", True, "unit word"),
    ("The answer is 10,000 square feet.", "10000", True, "two-word unit"),
    ("**Answer:** 2,500", "2500", True, "markdown bold"), ("Final answer: 3,600 seconds", "3600", True, "unit word"),
    ("The answer is 1 000 000.", "1000000", True, "space separators"),
    ("The answer is $1\\,000$.", "1000", True, "thin space"), ("The answer is $1{,}000$.", "1000", True, "{,}"),
    ("<answer>1,500</answer>", "1500", True, "answer tag"),
    ("So the total is 4,320. The final answer is 4,320", "4320", True, "restated"),
    ("The answer is 1,234.5", "1234.5", True, "decimals"), ("The answer is -1,500.", "-1500", True, "negative"),
    ("The answer is \\$2,000.", "2000", True, "escaped dollar"), ("Final Answer: The final answer is 7,000. I hope "
                                                                  "it is correct.", "7000", True, "Minerva template"),
    ("The answer is 25,000 people.", "25000", True, "unit word"),
    ("The answer is 1,234.", "1235", False, "wrong value"), ("The answer is 1,000.", "100", False, "wrong value"),
    ("The answer is 12,34.", "1234", False, "not a thousands grouping"),
    ("The answer is 1,000,000.", "1000", False, "wrong magnitude"), ("Answer: 3,600 seconds", "60", False, "units"),
]:
    add("thousands", resp, gold, ok, f"{WHY_K}: {note}")

# --- a mixed bag of the forms every math grader meets
WHY_MIX = "mixed"
for resp, gold, ok, note in [
    (say("5\\text{ cm}^2"), "5", True, "unit with exponent"), (say("12 \\text{ square units}"), "12", True, "unit"),
    (say("3 \\text{ m/s}"), "3", True, "unit with slash"), (say("\\$18.90"), "18.90", True, "dollar"),
    (say("18.9"), "\\$18.90", True, "dollar gold"), (say("45^\\circ"), "45", True, "degrees"),
    (say("7 \\text{ hours}"), "7", True, "unit"), (say("2.5 \\mathrm{~km}"), "2.5", True, "Minerva unit"),
    (say("6\\,\\text{cm}"), "6", True, "spaced unit"), (say("10 \\text{ cm}"), "11", False, "wrong value + unit"),
    (say("50\\%"), "50", True, "percent"), (say("50\\%"), "0.5", True, "percent as a fraction of one"),
    (say("0.5"), "50\\%", True, "fraction of one vs percent gold"), (say("25\\%"), "0.5", False, "wrong percent"),
    (say("4.5 \\times 10^{33}"), "4.5e33", True, "e-notation gold"), (say("2e-5"), "1e-5", False, "e-notation"),
    (say("\\textbf{(C)}"), "C", True, "choice letter"), ("The answer is (B).", "\\text{(B)}", True, "choice letter"),
    (say("(D)"), "C", False, "choice letter"), (say("x = 5"), "5", True, "equation"),
    (say("y = 2x + 3"), "y=2x+3", True, "equation gold"), (say("y = 2x - 3"), "y=2x+3", False, "sign"),
    (say("\\dfrac{3}{4}"), "0.75", True, "\\dfrac"), (say("1/2"), "\\frac12", True, "slash"),
    (say("\\frac{2}{4}"), "\\frac12", True, "unreduced"), (say("\\sqrt{8}"), "2\\sqrt{2}", True, "root form"),
    (say("\\frac{\\sqrt{2}}{2}"), "\\frac{1}{\\sqrt{2}}", True, "rationalised"),
    (say("2\\sqrt3"), "\\sqrt{3}", False, "factor"), (say("−5"), "-5", True, "unicode minus"),
    (say("\\pm 2"), "2, -2", True, "\\pm"), (say("2\\frac{1}{2}"), "\\frac52", True, "mixed number"),
    (say("1011_2"), "1011_2", True, "base subscript"), (say("\\text{no solution}"), "\\text{no solution}", True, "text"),
    (say("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"), "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True, "vector"),
    (say("\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"), "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False, "vector"),
    (say("\\{1, 2, 3\\}"), "\\{3,2,1\\}", True, "set"), (say("(3, -1)"), "(3,-1)", True, "tuple"),
    (say("(-1, 3)"), "(3,-1)", False, "tuple order"), (say("\\frac{\\pi}{3}"), "60^\\circ", False,
                                                      "radians vs degrees are not converted"),
    ("**Final Answer:** 42", "42", True, "markdown bold"), ("Final answer: **42**", "42", True, "markdown bold"),
    ("**Answer: 17**", "17", True, "markdown bold"),
    ("<think>\\boxed{3}</think> The answer is \\boxed{4}", "4", True, "box after thinking"),
    ("<think>\\boxed{3}</think> The answer is \\boxed{4}", "3", False, "box inside thinking"),
    ("<think>so it is \\boxed{3}, I think", "3", False, "thinking never finished"),
    ("48 + 24 = 72", "72", False, "no declared answer (last-number extraction rewards restating the question)"),
    ("We have 12 apples and 4 pears.", "4", False, "no declared answer"),
    ("The answer is \\boxed{\\frac{1}{", "\\frac12", False, "truncated box"), (say(""), "0", False, "empty box"),
    (say("0.0000002"), "0.0000001", False, "tiny numbers differ"), (say("2^{-98}"), "2^{-99}", False, "tiny numbers"),
    (say("0.333333"), "\\frac13", True, "6-decimal float"), (say("0.33"), "\\frac13", False, "rounded too far"),
]:
    add("mixed", resp, gold, ok, f"{WHY_MIX}: {note}")

# ======================================================================================================
# Second batch: new variants of every class, written before the verifier was run on them (the first batch was
# written alongside the normaliser). `bench_verify_hard.py` reports both; README quotes the second batch's
# first-run accuracy too.
B2 = "2"


def add2(category: str, response: str, gold: str, expected: bool, why: str) -> None:
    add(f"{category}", response, gold, expected, why + " [batch 2]")


for resp, gold, ok, note in [
    (say("{ { 5 } }"), "5", True, "spaced braces"), (say("\\bigl(\\bigl(3\\bigr)\\bigr)"), "3", True, "\\bigl pairs"),
    (say("{-}{5}"), "-5", True, "braced minus"), (say("{\\frac{{3}}{{4}}}"), "0.75", True, "braces in a fraction"),
    (say("\\dfrac{{{{1}}}}{{{{8}}}}"), "0.125", True, "braces in a \\dfrac"),
    (say("(((\\frac{1}{2})))"), "0.5", True, "parentheses around a fraction"),
    ("So \\boxed{\\boxed{2}, \\boxed{3}}.", "2, 3", True, "boxes inside a box"),
    (say("\n\n\t 42 \t\n"), "42", True, "tabs and newlines"),
    ("so " * 66_000 + "the answer is \\boxed{9}.", "9", True, "200 kB of text first"),
    ("The answer is \\boxed{5}" + " " * 200_000 + ".", "5", True, "200 kB of trailing spaces"),
    (say("{" * 60 + "2\\sqrt{3}" + "}" * 60), "\\sqrt{12}", True, "60 braces"),
    (say("(" * 40 + "-\\frac{1}{2}" + ")" * 40), "-0.5", True, "40 parentheses"),
    (say("{" * 30 + "-5" + "}" * 30), "5", False, "30 braces, wrong sign"),
    (say("\\{\\{5\\}\\}"), "5", False, "a set of a set is not a number"),
]:
    add2("nested", resp, gold, ok, f"nested / padded: {note}")
for resp, gold, ok, note in [
    (say("10^{10^{100}}"), "10^{10^{100}}", True, "identical googolplex"),
    (say("10^{10^{100}}"), "10^{10^{99}}", False, "different towers"),
    (say("2^{2^{2^{2^{2}}}}"), "2^{65536}", True, "tower that sympy can evaluate"),
    (say("(10^{100})!"), "1", False, "huge factorial"),
]:
    add2("deadline_bait", resp, gold, ok, f"deadline bait: {note}")
for resp, gold, ok, note in [
    ("0.\\overline{27}", "\\frac{3}{11}", True, ""), ("3.\\overline{1}", "\\frac{28}{9}", True, ""),
    ("0.2\\overline{7}", "\\frac{5}{18}", True, ""), ("0.\\overline{123}", "\\frac{41}{333}", True, ""),
    ("0.0\\overline{3}", "\\frac{1}{30}", True, ""), ("1.\\overline{9}", "2", True, ""),
    ("0.\\overline{285714}", "\\frac27", True, ""), ("0.\\bar{3}", "\\frac13", True, "\\bar"),
    ("0.\\overline{3}", "0.\\overline{33}", True, "same number, longer period"), ("0.8\\overline{3}", "\\frac56", True, ""),
    ("0.\\overline{45}", "\\frac{5}{11}", True, ""), ("-1.\\overline{6}", "-\\frac53", True, ""),
    ("0.1\\dot{6}", "\\frac16", True, "\\dot"), ("0.\\dot{4}", "\\frac49", True, "\\dot"),
    ("2.(45)", "\\frac{27}{11}", True, "parentheses"), ("0.4545\\ldots", "\\frac{5}{11}", True, "\\ldots"),
    ("0.8333\\ldots", "\\frac56", True, "\\ldots"), ("0.0909\\ldots", "\\frac{1}{11}", True, "\\ldots"),
    ("0.\\overline{3} + 1", "\\frac43", True, "inside an expression"),
    ("\\frac{1}{0.\\overline{3}}", "3", True, "inside a fraction"),
    ("0.\\overline{3}", "0.34", False, ""), ("0.\\overline{27}", "\\frac{27}{100}", False, ""),
    ("0.2\\overline{7}", "\\frac27", False, ""), ("0.4545\\ldots", "\\frac{45}{100}", False, ""),
]:
    add2("repeating_decimal", say(resp), gold, ok, f"repeating decimal {note}".strip())
for resp, gold, ok in [
    ("x \\leqslant 7", "(-\\infty, 7]", True), ("x \\geqslant 0", "[0, \\infty)", True),
    ("0 \\le x < 2\\pi", "[0, 2\\pi)", True), ("-2 \\leq x \\leq 7", "[-2,7]", True),
    ("x>-\\frac{3}{2}", "(-\\frac32, \\infty)", True), ("x \\in [-2, 7]", "-2 \\le x \\le 7", True),
    ("a > 0", "(0, \\infty)", True), ("x < -1 \\text{ or } x \\ge 2", "(-\\infty,-1)\\cup[2,\\infty)", True),
    ("x \\leq 1 \\quad \\text{or} \\quad x \\geq 4", "(-\\infty, 1] \\cup [4, \\infty)", True),
    ("(-\\infty, -1] \\cup [1, \\infty)", "x \\le -1 \\text{ or } x \\ge 1", True),
    ("\\mathbb{R}", "(-\\infty, \\infty)", True), ("x \\in \\mathbb{R}", "\\mathbb{R}", True),
    ("3 < x", "(3, \\infty)", True), ("4 \\geq x", "(-\\infty, 4]", True),
    ("x \\leqslant 7", "(-\\infty, 7)", False), ("0 < x < 2\\pi", "[0, 2\\pi)", False), ("x > 0", "[0, \\infty)", False),
    ("x<-1 \\text{ or } x>2", "(-1,2)", False), ("x \\le 3", "x \\ge 3", False), ("x < 5", "(-\\infty, 6)", False),
    ("1 < x < 4", "(1,4]", False),
]:
    add2("interval_inequality", say(resp), gold, ok, "interval written as an inequality")
for resp, gold, ok in [
    ("4\\mathrm{i}", "4i", True), ("-2+\\mathrm{i}", "i-2", True), ("\\mathrm{e}^{2}-1", "e^2-1", True),
    ("\\frac{1}{\\mathrm{e}}", "e^{-1}", True), ("\\mathrm{e}^{\\ln 5}", "5", True), ("i^2", "-1", True),
    ("i^4", "1", True), ("\\frac{1}{i}", "-i", True), ("\\sqrt{-4}", "2i", True), ("2\\pi \\mathrm{i}", "2\\pi i", True),
    ("\\mathrm{e}^{\\pi \\mathrm{i}}", "-1", True), ("\\operatorname{e}^3", "e^3", True), ("\\infty", "+\\infty", True),
    ("\\text{e}", "e", True), ("i^2", "1", False), ("\\frac{1}{i}", "i", False), ("4\\mathrm{i}", "4", False),
    ("\\sqrt{-4}", "2", False), ("\\mathrm{e}^{\\pi\\mathrm{i}}", "1", False),
]:
    add2("constants", say(resp), gold, ok, "constant / imaginary unit in another notation")
for resp, gold, ok, note in [
    ("So $x = \\boxed{-2}$ or... no: the solutions are \\boxed{-2}, \\boxed{2}.", "\\pm 2", True, "\\pm gold"),
    ("\\boxed{1} \\text{ and } \\boxed{-1}", "1,-1", True, "\\text{ and }"),
    ("Hence $x=\\boxed{3}$ and $y=\\boxed{4}$.", "3, 4", True, "two unknowns"),
    ("\\boxed{(1,2)}, \\boxed{(3,4)}", "(1,2),(3,4)", True, "two pairs"),
    ("\\(\\boxed{2}\\) and \\(\\boxed{5}\\)", "2,5", True, "\\( \\) spans"),
    ("\\boxed{2}\\quad\\boxed{2}", "2", True, "the same box twice"),
    ("\\boxed{1}, \\boxed{2}", "1", False, "two answers, one gold"), ("\\boxed{1}, \\boxed{1}, \\boxed{2}", "1", False, ""),
    ("\\boxed{-2}, \\boxed{2}", "2", False, "two answers, one gold"),
    ("\\boxed{5}\n\nHmm, let me double-check the last step. Actually it is \\boxed{6}", "6", True, "self-correction"),
    ("\\boxed{5}\n\nHmm, let me double-check the last step. Actually it is \\boxed{6}", "5", False, "self-correction"),
    ("We have \\boxed{4}. Thus the answer is \\boxed{4}.", "4", True, "restated"),
]:
    add2("multi_box", resp, gold, ok, f"several boxes: {note}".rstrip(": "))
for resp, gold in [
    ("\\boxed{3} or \\boxed{-3}", "3"), ("\\boxed{3} or \\boxed{-3}", "3, -3"), ("Either \\boxed{1} or \\boxed{2}", "1"),
    ("\\boxed{12}/\\boxed{13}", "12"), ("\\boxed{6}, or possibly \\boxed{7}", "7"), ("\\boxed{x=1} or \\boxed{x=2}", "2"),
    ("maybe \\boxed{4} or \\boxed{5}", "4"), ("\\boxed{\\text{(A)}} or \\boxed{\\text{(C)}}", "C"),
]:
    add2("hedge", resp, gold, False, "hedge between boxes is no answer")
for resp, gold, ok in [
    ("The answer is 12,500.", "12500", True), ("Answer: 1,000,000", "10^6", True), ("#### 2,345", "2345", True),
    ("The final answer is 100,000.", "100000", True), ("the answer is 3,000 meters.", "3000", True),
    ("The answer is $5,600$", "5600", True), ("The answer is **1,024**.", "1024", True), ("Answer: -2,048", "-2048", True),
    ("The answer is 1,000 cubic centimeters", "1000", True), ("The answer is 65,536", "2^{16}", True),
    ("The answer is 7,500 dollars", "\\$7,500", True), ("The answer is 4,096.", "4,096", True),
    ("The answer is 1,250.", "125", False), ("The answer is 2,048", "2049", False), ("Answer: 10,001", "10000", False),
]:
    add2("thousands", resp, gold, ok, "thousands separator outside a box")
for resp, gold, ok, note in [
    (say("\\frac{7}{2}"), "3.5", True, ""), (say("3\\frac{1}{2}"), "3.5", True, "mixed number"),
    (say("120^\\circ"), "120", True, ""), (say("\\$5.50"), "5.5", True, ""), (say("5.50"), "\\$5.5", True, ""),
    (say("75\\%"), "0.75", True, ""), (say("0.75"), "75\\%", True, ""), (say("\\sqrt[3]{8}"), "2", True, ""),
    (say("\\log_2 8"), "3", True, ""), (say("\\binom{5}{2}"), "10", True, ""), (say("5!"), "120", True, ""),
    (say("\\text{(E)}"), "E", True, ""), ("The answer is $\\textbf{(B) } 12$", "B", True, "choice with value"),
    (say("y=-x+1"), "y = 1 - x", True, ""), (say("(2,-1)"), "(2, -1)", True, ""),
    (say("\\{-1, 1\\}"), "\\{1,-1\\}", True, ""), (say("2\\times 10^{3}"), "2000", True, ""),
    (say("1.2 \\times 10^{-3}"), "0.0012", True, ""), (say("30 \\text{ minutes}"), "30", True, ""),
    (say("8 \\text{ cm}^3"), "8", True, ""), (say("\\frac{7}{3}"), "3.5", False, ""), (say("121^\\circ"), "120", False, ""),
    (say("\\log_2 8"), "2", False, ""), (say("(1,-2)"), "(2,-1)", False, ""), (say("5!"), "100", False, ""),
    (say("75\\%"), "0.7", False, ""),
    ("The final answer is $\\boxed{17}$. I hope it is correct.", "17", True, "Minerva template"),
    ("Final Answer: The final answer is $6$. I hope it is correct.", "6", True, "Minerva template"),
    ("**Final answer**: 9", "9", True, "markdown around the marker"),
    ("### Final Answer\n\n\\boxed{42}", "42", True, "markdown heading"),
    ("Answer: $\\frac{1}{2}$", "0.5", True, ""), ("The answer is: 12", "12", True, ""),
]:
    add2("mixed", resp, gold, ok, f"mixed {note}".strip())

# ======================================================================================================
# Third batch, written after the fixes prompted by batch 2 and kept as a check: its first-run result is what
# README quotes as the estimate for forms we did not tune on.


def add3(category: str, response: str, gold: str, expected: bool, why: str) -> None:
    add(category, response, gold, expected, why + " [batch 3]")


for resp, gold, ok in [
    (say("{{{{x+1}}}}"), "x+1", True), (say("((((((x+1))))))"), "1+x", True),
    (say("{" * 15 + "\\frac{\\pi}{4}" + "}" * 15), "\\frac{\\pi}{4}", True),
    (say("\\Big(\\Big(\\frac{2}{3}\\Big)\\Big)"), "\\frac23", True),
    ("The answer is $\\boxed{\\;\\;\\;12\\;\\;\\;}$", "12", True),
    (say("{" * 26 + "(2, 3)" + "}" * 26), "(2,3)", True), (say("(" * 25 + "2, 3" + ")" * 25), "(2,3)", True),
    (say("{{{" + "\\sqrt{" * 5 + "16" + "}" * 5 + "}}}"), "2^{1/8}", True),
    ("Answer: " + " " * 30_000 + "\\boxed{4}", "4", True),
    (say("\\displaystyle{\\frac{{{1}}}{{{3}}}}"), "\\frac13", True),
    ("\\boxed{\\boxed{\\boxed{\\boxed{\\frac{1}{9}}}}}", "\\frac19", True),
    (say("{" * 25 + "7" + "}" * 25), "8", False), (say("(((((( -3 ))))))"), "3", False),
]:
    add3("nested", resp, gold, ok, "nested / padded")
for resp, gold, ok in [
    ("0.\\overline{1}", "\\frac19", True), ("0.\\overline{01}", "\\frac{1}{99}", True),
    ("0.\\overline{714285}", "\\frac57", True), ("1.\\overline{27}", "\\frac{14}{11}", True),
    ("0.91\\overline{6}", "\\frac{11}{12}", True), ("0.\\overline{6}", "0.667", False),
    ("0.\\overline{6}", "0.666667", True), ("0.1\\overline{2}", "\\frac{11}{90}", True),
    ("0.\\overline{2}", "\\frac29", True), ("0.\\overline{2}", "\\frac{2}{10}", False),
    ("0.222\\ldots", "\\frac29", True), ("0.1212\\ldots", "\\frac{4}{33}", True), ("0.(142857)", "\\frac17", True),
    ("0.(6)", "\\frac23", True), ("5.\\overline{5}", "\\frac{50}{9}", True), ("0.\\overline{5}", "\\frac59", True),
    ("0.\\overline{5}", "0.5", False), ("\\frac{5}{9}", "0.\\overline{5}", True),
]:
    add3("repeating_decimal", say(resp), gold, ok, "repeating decimal")
for resp, gold, ok in [
    ("x \\geq 2", "[2, +\\infty)", True), ("-5 < x < 5", "(-5,5)", True),
    ("x \\le 0 \\text{ or } x \\ge 1", "(-\\infty, 0] \\cup [1, \\infty)", True),
    ("x\\in(-\\infty,0)\\cup(0,\\infty)", "(-\\infty,0)\\cup(0,\\infty)", True),
    ("m > \\frac{1}{4}", "(\\frac{1}{4}, \\infty)", True), ("k \\leq -3", "(-\\infty, -3]", True),
    ("1 \\le x \\le 3", "[1, 3]", True), ("0<x\\leq 1", "(0,1]", True), ("x \\in [0, 1]", "[0,1]", True),
    ("x \\geq 2", "(2, \\infty)", False), ("-5 \\le x < 5", "(-5, 5)", False),
    ("x > \\frac{1}{4}", "(-\\infty, \\frac14)", False), ("[1,3]", "1 < x < 3", False),
]:
    add3("interval_inequality", say(resp), gold, ok, "interval written as an inequality")
for resp, gold, ok in [
    ("\\mathrm{e}^{3}", "e^3", True), ("5\\mathrm{e}", "5e", True), ("\\mathrm{i}^2", "-1", True),
    ("1 - \\mathrm{i}", "1-i", True), ("\\frac{\\sqrt{3}}{2} + \\frac{1}{2}\\mathrm{i}", "\\frac{\\sqrt3}{2}+\\frac{i}{2}", True),
    ("\\text{e}^{-2}", "\\frac{1}{e^2}", True), ("\\sqrt{-16}", "4i", True), ("(2\\mathrm{i})^2", "-4", True),
    ("\\mathrm{e}^{0}", "1", True), ("-\\infty", "\\infty", False), ("\\mathrm{i}^2", "1", False),
    ("5\\mathrm{e}", "5", False), ("\\sqrt{-16}", "4", False),
]:
    add3("constants", say(resp), gold, ok, "constant / imaginary unit in another notation")
for resp, gold, ok in [
    ("The two roots are $\\boxed{-1}$ and $\\boxed{4}$.", "-1, 4", True), ("\\boxed{a = 2}, \\boxed{b = 3}", "2, 3", True),
    ("\\boxed{3}; \\boxed{7}", "3, 7", True), ("\\boxed{\\frac{1}{2}}, \\boxed{-\\frac{1}{2}}", "\\pm\\frac12", True),
    ("\\boxed{6} \\boxed{6}", "6", True), ("\\boxed{1}, \\boxed{3}", "1, 2", False),
    ("First guess: \\boxed{10}. But the constraint rules this out, so the answer must be \\boxed{12}.", "12", True),
    ("First guess: \\boxed{10}. But the constraint rules this out, so the answer must be \\boxed{12}.", "10", False),
]:
    add3("multi_box", resp, gold, ok, "several boxes")
for resp, gold, ok in [
    ("\\boxed{4} or \\boxed{8}", "8", False), ("\\boxed{1}/\\boxed{2}", "1", False),
    ("Possibly \\boxed{3}, or perhaps \\boxed{9}", "9", False), ("$\\boxed{20}$ (or maybe $\\boxed{21}$)", "20", False),
    ("\\boxed{7} \\text{or} \\boxed{11}", "11", False),
    ("\\boxed{\\frac12} or \\boxed{0.5}", "0.5", True),  # every alternative right: not a hedge that pays
]:
    add3("hedge", resp, gold, ok, "hedge between boxes")
for resp, gold, ok in [
    ("The answer is 2,016.", "2016", True), ("Answer: 99,999", "99999", True), ("#### 10,000", "10000", True),
    ("The final answer is 8,000 grams.", "8000", True), ("the answer is 3 600", "3600", True),
    ("The answer is $12{,}345$.", "12345", True), ("The answer is 1,000,001", "1000001", True),
    ("The answer is 5,000 square meters.", "5000", True), ("Answer: **6,250**", "6250", True),
    ("The answer is 2,016.", "2017", False), ("The answer is 3,000.", "300", False),
    ("Answer: 1,200 dollars", "12000", False),
]:
    add3("thousands", resp, gold, ok, "thousands separator outside a box")
for resp, gold, ok in [
    (say("\\frac{3}{2}"), "1.5", True), (say("1\\frac{1}{2}"), "1.5", True), (say("\\frac{-1}{2}"), "-0.5", True),
    (say("90^{\\circ}"), "90", True), (say("15 \\text{ inches}"), "15", True), (say("\\$1.25"), "1.25", True),
    (say("12.5\\%"), "12.5", True), (say("12.5\\%"), "0.125", True), (say("\\sqrt{50}"), "5\\sqrt2", True),
    (say("\\frac{\\sqrt{6}}{3}"), "\\sqrt{\\frac23}", True), (say("x=-2"), "-2", True), (say("\\text{(D)}"), "D", True),
    ("The answer is (A).", "A", True), (say("(0, 1)"), "(0,1)", True), (say("\\frac{3}{2}"), "1.6", False),
    (say("90^{\\circ}"), "45", False), (say("\\sqrt{50}"), "5\\sqrt3", False), (say("(1, 0)"), "(0,1)", False),
    ("**Answer:** $\\frac{2}{3}$", "\\frac23", True), ("Final answer: $x = 4$", "4", True),
    ("The answer is \\(\\frac{5}{6}\\).", "\\frac56", True), ("Thus, the final answer is \\[\\boxed{81}\\]", "81", True),
]:
    add3("mixed", resp, gold, ok, "mixed")

if __name__ == "__main__":
    with OUT.open("w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    from collections import Counter

    print(len(cases), dict(Counter(c["category"] for c in cases)))
