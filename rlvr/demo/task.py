"""The demo task: synthetic multi-step integer arithmetic with a verifiable `\\boxed{}` answer.

    "Compute 3+5-2."  ->  " 3+5=8. 8-2=6. \\boxed{6}"

Every problem is a start value followed by 2-4 add/subtract steps (running totals 0-9); the gold answer is the
exact result. (Bare expressions rather than word problems: a 2-layer model must learn to *find* each step's
operand, and in an expression that is a plain induction-head lookup it picks up in a couple of minutes.) The
train and held-out splits are disjoint by *arithmetic signature* (start value and signed operands), so no
held-out problem is ever trained on. Everything is deterministic in the seed.

Demonstrations for SFT (`demonstration`) are deliberately imperfect: with probability 1 - reason_frac a bare
guess (`\\boxed{}` of the answer +- up to 4), otherwise worked steps in which each result slips by 1-2 with
probability `slip` (the slip propagates to the box). A model fit to them usually guesses and sometimes works it
out, i.e. low pass@1 with a much higher pass@k -- the regime where RLVR measurably helps: reward moves it into
the worked-steps mode it can already sample (Yue et al. 2025, "Does RL Really Incentivize Reasoning Capacity
in LLMs Beyond the Base Model?"), and its responses grow longer as it does.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

START = (1, 9)  # start value range (inclusive)
OPERAND = (1, 5)  # step operand range (inclusive)
STEPS = (2, 3, 4)  # number of add/subtract steps
MAX_TOTAL = 9  # running totals stay single digits: every step is one small fact a tiny model learns in minutes
GUESS_SPREAD = 4  # a guessed answer is uniform in [answer - 4, answer + 4]


@dataclass(frozen=True)
class Problem:
    start: int
    ops: tuple[int, ...]  # signed operands: (+5, -3) = "+5-3"

    @property
    def signature(self) -> tuple[int, ...]:
        return (self.start,) + self.ops

    @property
    def answer(self) -> int:
        return self.start + sum(self.ops)

    def text(self) -> str:
        return f"Compute {self.start}" + "".join(f"{op:+d}" for op in self.ops) + "."


def sample_problem(rng: random.Random) -> Problem:
    """2-4 steps; every running total stays in [0, MAX_TOTAL] (no negative intermediate results)."""
    n_steps = rng.choice(STEPS)
    total = rng.randint(*START)
    ops = []
    for _ in range(n_steps):
        n = rng.randint(*OPERAND)
        op = -n if (rng.random() < 0.5 and total - n >= 0) or total + n > MAX_TOTAL else n
        ops.append(op)
        total += op
    return Problem(total - sum(ops), tuple(ops))


def solution(p: Problem, rng: random.Random | None = None, slip: float = 0.0) -> str:
    """Chain of steps then the box, e.g. ' 3+5=8. 8-2=6. \\boxed{6}'. With `slip` > 0, each step result is
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
    """A no-work answer: the box alone, holding the answer plus a uniform offset in [-GUESS_SPREAD, GUESS_SPREAD]
    (clamped to [0, MAX_TOTAL])."""
    return f" \\boxed{{{min(MAX_TOTAL, max(0, p.answer + rng.randint(-GUESS_SPREAD, GUESS_SPREAD)))}}}"


def demonstration(p: Problem, rng: random.Random, reason_frac: float = 0.3, slip: float = 0.1) -> str:
    """An imperfect SFT target: worked steps (with slips) with probability `reason_frac`, else a bare guess."""
    return solution(p, rng, slip) if rng.random() < reason_frac else guess(p, rng)


def make_splits(seed: int = 0, n_train: int = 4000, n_heldout: int = 200) -> tuple[list[Problem], list[Problem]]:
    """Disjoint (by signature) train and held-out problem lists, deterministic in `seed`."""
    rng = random.Random(seed)
    heldout: list[Problem] = []
    train: list[Problem] = []
    held_sigs: set[tuple[int, ...]] = set()
    while len(heldout) < n_heldout:
        p = sample_problem(rng)
        if p.signature not in held_sigs:
            held_sigs.add(p.signature)
            heldout.append(p)
    while len(train) < n_train:  # repeats allowed: deduplicating would starve the (few) 2-step problems
        p = sample_problem(rng)
        if p.signature not in held_sigs:
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
