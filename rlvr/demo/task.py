"""The demo task: synthetic multi-step integer word problems with a verifiable `\\boxed{}` answer.

    "Mia has 7 marbles. She finds 5 more. Then she loses 3. How many marbles does Mia have now?"
    ->  " 7+5=12. 12-3=9. \\boxed{9}"

Every problem is a start value followed by 2-3 add/subtract steps; the gold answer is the exact result. The
train and held-out splits are disjoint by *arithmetic signature* (start value and the signed operands), so a
held-out problem is never a reworded train problem. Everything is deterministic in the seed.

Demonstrations for SFT (`demonstration`) are deliberately imperfect: each step's result is off by 1-2 with
probability `slip`, and the slip propagates to the box. A model fit to them learns "right with probability
~(1 - slip) per step", i.e. a low pass@1 with a much higher pass@k -- the regime where RLVR measurably helps
(it sharpens the policy towards answers it can already sample; Yue et al. 2025, "Does RL Really Incentivize
Reasoning Capacity in LLMs Beyond the Base Model?").
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

NAMES = [("Mia", "She"), ("Leo", "He"), ("Ava", "She"), ("Sam", "He"), ("Zoe", "She"), ("Max", "He"),
         ("Ivy", "She"), ("Ben", "He"), ("Emma", "She"), ("Noah", "He"), ("Lily", "She"), ("Owen", "He")]
ITEMS = ["apples", "marbles", "stickers", "coins", "cards", "books", "pencils", "shells", "stamps", "cookies"]
ADD = ["{p} buys {n} more.", "{p} finds {n} more.", "{p} gets {n} more."]
SUB = ["{p} gives away {n}.", "{p} loses {n}.", "{p} sells {n}."]
START = (1, 12)  # start value range (inclusive)
OPERAND = (1, 6)  # step operand range (inclusive)
MAX_TOTAL = 20  # running totals stay in [0, MAX_TOTAL]
GUESS_SPREAD = 4  # a guessed answer is uniform in [answer - 4, answer + 4]


@dataclass(frozen=True)
class Problem:
    start: int
    ops: tuple[int, ...]  # signed operands: +5 = "buys 5 more", -3 = "gives away 3"
    name: int  # index into NAMES
    item: int  # index into ITEMS
    verbs: tuple[int, ...]  # phrasing of each step

    @property
    def signature(self) -> tuple[int, ...]:
        return (self.start,) + self.ops

    @property
    def answer(self) -> int:
        return self.start + sum(self.ops)

    def text(self) -> str:
        name, pron = NAMES[self.name]
        item = ITEMS[self.item]
        parts = [f"{name} has {self.start} {item}."]
        for i, (op, verb) in enumerate(zip(self.ops, self.verbs)):
            step = (ADD if op > 0 else SUB)[verb].format(p=pron, n=abs(op))
            parts.append(step if i == 0 else "Then " + step[0].lower() + step[1:])
        parts.append(f"How many {item} does {name} have now?")
        return " ".join(parts)


def sample_problem(rng: random.Random) -> Problem:
    """2-3 steps; every running total stays in [0, MAX_TOTAL] so no step asks for a negative count."""
    n_steps = rng.choice((2, 3))
    total = rng.randint(*START)
    ops = []
    for _ in range(n_steps):
        n = rng.randint(*OPERAND)
        op = -n if (rng.random() < 0.5 and total - n >= 0) or total + n > MAX_TOTAL else n
        ops.append(op)
        total += op
    return Problem(total - sum(ops), tuple(ops), rng.randrange(len(NAMES)), rng.randrange(len(ITEMS)),
                   tuple(rng.randrange(3) for _ in ops))


def solution(p: Problem, rng: random.Random | None = None, slip: float = 0.0) -> str:
    """Chain of steps then the box, e.g. ' 7+5=12. 12-3=9. \\boxed{9}'. With `slip` > 0, each step result is
    off by +-1..2 with that probability (never below 0) and later steps carry the mistake forward."""
    total, steps = p.start, []
    for op in p.ops:
        res = total + op
        if rng is not None and rng.random() < slip:
            res = max(0, res + rng.choice((-2, -1, 1, 2)))
            res = res if res != total + op else total + op + 1
        steps.append(f"{total}{'+' if op > 0 else '-'}{abs(op)}={res}.")
        total = res
    return " " + " ".join(steps) + f" \\boxed{{{total}}}"


def guess(p: Problem, rng: random.Random) -> str:
    """A no-work answer: the box alone, holding the answer plus a uniform offset in [-GUESS_SPREAD, GUESS_SPREAD]."""
    return f" \\boxed{{{max(0, p.answer + rng.randint(-GUESS_SPREAD, GUESS_SPREAD))}}}"


def demonstration(p: Problem, rng: random.Random, reason_frac: float = 0.3, slip: float = 0.1) -> str:
    """An imperfect SFT target: worked steps (with slips) with probability `reason_frac`, else a bare guess."""
    return solution(p, rng, slip) if rng.random() < reason_frac else guess(p, rng)


def make_splits(seed: int = 0, n_train: int = 4000, n_heldout: int = 200) -> tuple[list[Problem], list[Problem]]:
    """Disjoint (by signature) train and held-out problem lists, deterministic in `seed`."""
    rng = random.Random(seed)
    heldout: list[Problem] = []
    train: list[Problem] = []
    seen: set[tuple[int, ...]] = set()
    held_sigs: set[tuple[int, ...]] = set()
    while len(heldout) < n_heldout:
        p = sample_problem(rng)
        if p.signature not in held_sigs:
            held_sigs.add(p.signature)
            heldout.append(p)
    while len(train) < n_train:
        p = sample_problem(rng)
        if p.signature not in held_sigs and p.signature not in seen:
            seen.add(p.signature)
            train.append(p)
    return train, heldout


def rows(problems: list[Problem], split: str) -> list[dict]:
    """Rows for the data loader: id, problem, answer (plus the worked solution for reference)."""
    return [{"id": f"demo-{split}-{i}", "problem": p.text(), "answer": str(p.answer), "solution": solution(p).strip()}
            for i, p in enumerate(problems)]


def write_jsonl(path: str | Path, items: list[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for r in items:
            f.write(json.dumps(r) + "\n")
    return path
