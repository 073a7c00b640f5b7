"""Evaluation metrics over n samples per problem: pass@k, avg@n, maj@k, confidence intervals, length stats.

Pure python / numpy. Inputs are per-problem lists of sample records; answer equivalence for majority voting is
a callable (the math verifier's `math_equivalent_batch` by default) so this module never imports a verifier.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

Equivalent = Callable[[list[tuple[str, str]]], list[bool]]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, "Evaluating LLMs Trained on Code", eq. 1).

    pass@k = 1 - C(n-c, k) / C(n, k), computed as the product 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms
    the (huge) binomial coefficients.
    """
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def bootstrap_ci(values: Sequence[float], *, level: float = 0.95, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling problems (not samples: samples of a problem are correlated)."""
    x = np.asarray(values, dtype=np.float64)  # [P]
    if x.size == 0:
        return (float("nan"), float("nan"))
    if x.size == 1 or np.all(x == x[0]):
        return (float(x.mean()), float(x.mean()))
    rng = np.random.default_rng(seed)  # fixed seed: the same results.json for the same samples
    idx = rng.integers(0, x.size, size=(resamples, x.size))  # [R, P]
    means = x[idx].mean(axis=1)  # [R]
    alpha = (1.0 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def _key(answer: str) -> str:
    return " ".join(answer.split())


def _unique(answers: Sequence[Optional[str]]) -> list[str]:
    uniq: list[str] = []
    for a in answers:
        if a is not None and _key(a) and _key(a) not in uniq:
            uniq.append(_key(a))
    return uniq


def cluster_answers(extracted: Sequence[Sequence[Optional[str]]], equivalent: Equivalent) -> list[list[int]]:
    """Cluster id per sample of each problem ([P][n]; -1 = no answer).

    A sample joins the first earlier cluster whose representative (its first member) is equivalent, so ids
    follow first appearance. The pairs of distinct answer strings of every problem go to the verifier in one
    batch; identical strings (after whitespace folding) are equal without a check.
    """
    uniqs = [_unique(a) for a in extracted]
    pairs = [(u[i], u[j]) for u in uniqs for i in range(len(u)) for j in range(i)]
    verdicts = list(equivalent(pairs)) if pairs else []
    if len(verdicts) != len(pairs):
        raise ValueError(f"equivalence returned {len(verdicts)} verdicts for {len(pairs)} pairs")
    same = {p for p, v in zip(pairs, verdicts) if v}
    out = []
    for answers, uniq in zip(extracted, uniqs):
        cluster_of: dict[str, int] = {}
        reps: list[str] = []
        for u in uniq:
            match = next((cid for cid, r in enumerate(reps) if (u, r) in same), None)
            if match is None:
                match = len(reps)
                reps.append(u)
            cluster_of[u] = match
        out.append([cluster_of[_key(a)] if a is not None and _key(a) else -1 for a in answers])
    return out


def majority_correct(clusters: Sequence[int], correct: Sequence[bool]) -> float:
    """1.0 if the most-voted answer cluster is correct. Ties go to the cluster whose first vote came earliest in
    sample order (deterministic, and independent of the answer strings); samples with no answer do not vote.
    The cluster's correctness is that of its earliest member (members are verifier-equivalent answers)."""
    counts: dict[int, int] = {}
    first: dict[int, int] = {}
    for i, c in enumerate(clusters):
        if c < 0:
            continue
        counts[c] = counts.get(c, 0) + 1
        first.setdefault(c, i)
    if not counts:
        return 0.0
    winner = min(counts, key=lambda c: (-counts[c], first[c]))
    return float(bool(correct[first[winner]]))


def maj_at_k(clusters: Sequence[int], correct: Sequence[bool], k: int) -> float:
    """maj@k of one problem: mean majority-vote correctness over the floor(n/k) disjoint blocks of k consecutive
    samples. Samples are i.i.d., so every block is an unbiased draw of maj@k; averaging blocks cuts variance."""
    n = len(clusters)
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n, got k={k} n={n}")
    blocks = [majority_correct(clusters[s : s + k], correct[s : s + k]) for s in range(0, n - k + 1, k)]
    return float(np.mean(blocks))


def length_stats(lengths: Sequence[int], truncated: Sequence[bool]) -> dict[str, float]:
    x = np.asarray(lengths, dtype=np.float64)  # [S]
    if x.size == 0:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0, "truncation_rate": 0.0}
    return {
        "mean": float(x.mean()),
        "median": float(np.median(x)),
        "p90": float(np.percentile(x, 90)),
        "max": float(x.max()),
        "truncation_rate": float(np.mean(np.asarray(truncated, dtype=np.float64))),
    }


def score_problems(
    correct: Sequence[Sequence[bool]],
    extracted: Sequence[Sequence[Optional[str]]],
    ks: Sequence[int],
    equivalent: Optional[Equivalent] = None,
    *,
    ci_level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per-metric {"value", "ci_low", "ci_high"} over P problems with n samples each.

    correct / extracted: [P][n]. Metrics: avg@n, pass@k and (when `equivalent` is given) maj@k for each k <= n.
    CIs are percentile bootstrap over problems.
    """
    if not correct:
        raise ValueError("no problems to score")
    n = len(correct[0])
    if any(len(c) != n for c in correct):
        raise ValueError("every problem needs the same number of samples")
    ks = sorted({k for k in ks if 1 <= k <= n})
    per_problem: dict[str, list[float]] = {f"avg@{n}": [float(np.mean(c)) for c in correct]}
    for k in ks:
        per_problem[f"pass@{k}"] = [pass_at_k(n, int(sum(c)), k) for c in correct]
    if equivalent is not None:
        clusters = cluster_answers(extracted, equivalent)
        for k in ks:
            per_problem[f"maj@{k}"] = [maj_at_k(cl, c, k) for cl, c in zip(clusters, correct)]
    out = {}
    for name, vals in per_problem.items():
        lo, hi = bootstrap_ci(vals, level=ci_level, seed=seed)
        out[name] = {"value": float(np.mean(vals)), "ci_low": lo, "ci_high": hi}
    return out
