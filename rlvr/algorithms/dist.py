"""Batch statistics over every data-parallel rank (design.md §4: "a batch statistic is the whole batch's").

Pure torch.distributed (no DeepSpeed); outside a process group everything is local. The trainer points
`set_data_parallel_group` at the learner ranks (all ranks when colocated; the learner subgroup when rollout
and learner ranks are split).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

_GROUP: Optional[object] = None  # None = the default (world) group


def set_data_parallel_group(group) -> None:
    global _GROUP
    _GROUP = group


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(_GROUP) > 1


def batch_tensor(x: torch.Tensor) -> torch.Tensor:
    """`x` [n, ...] of this rank -> the concatenation over all data-parallel ranks [n_all, ...] (rank order)."""
    if not _active():
        return x
    parts: list = [None] * dist.get_world_size(_GROUP)
    dist.all_gather_object(parts, x.detach().cpu(), group=_GROUP)
    return torch.cat([p.to(x.device, x.dtype) for p in parts])


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over the data-parallel ranks (a copy; `x` is unchanged)."""
    if not _active():
        return x
    y = x.detach().clone()
    dist.all_reduce(y, group=_GROUP)
    return y
