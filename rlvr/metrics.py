"""Metrics say how they reduce where they are made: a plain number is a mean, `Sum(x)` adds up, `Max(x)` keeps
the largest — over micro-batches, generation batches and ranks alike. No name lists in the loop.

    metrics = {"rollout/tokens": Sum(n), "rollout/response_len_max": Max(m), "policy/entropy": h}
    combine([m1, m2])          # across micro-batches / generation batches of one rank
    combine_ranks(metrics)     # across data-parallel ranks (all_gather of small dicts)
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional


class Sum(float):
    """A count or a share of a total (loss/*): summed when metrics are combined."""


class Max(float):
    """An extreme (a maximum length, a staleness bound): the largest value wins when combined."""


def _kind(v) -> type:
    return type(v) if isinstance(v, (Sum, Max)) else float


def combine(dicts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """One dict from several: each key reduced as its values declare (mean over the dicts that have it)."""
    dicts = list(dicts)
    out: dict[str, float] = {}
    for k in dict.fromkeys(k for d in dicts for k in d):
        vals = [d[k] for d in dicts if k in d]
        kind = _kind(vals[0])
        nums = [float(v) for v in vals]
        out[k] = Sum(sum(nums)) if kind is Sum else Max(max(nums)) if kind is Max else sum(nums) / len(nums)
    return out


def combine_ranks(metrics: Mapping[str, float], group=None) -> dict[str, float]:
    """`combine` across the ranks of `group` (default: the world); a no-op in a single process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size(group) == 1:
        return dict(metrics)
    gathered: list[Optional[dict]] = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, dict(metrics), group=group)
    return combine(gathered)


def plain(metrics: Mapping[str, float]) -> dict[str, float]:
    """Plain floats (for JSON / TensorBoard)."""
    return {k: float(v) for k, v in metrics.items()}
