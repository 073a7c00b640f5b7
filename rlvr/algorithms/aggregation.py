"""Loss aggregation: per-token loss [B, T] -> scalar (algorithms.md §0 "Aggregation modes").

Signature: `fn(x, den_mask, rows, *, num_tokens, num_seqs, max_response_len) -> 0-dim tensor`, where
`x [B, T]` is already zero outside the tokens that carry loss, `den_mask [B, T]` marks the tokens counted in
per-row / per-batch token denominators, and `rows [B]` marks the sequences counted in N.

Global normalizer: `num_tokens` / `num_seqs` are the optimizer step's totals (all micro-batches and ranks,
see `step_normalizers`). Every mode is a *sum over rows or tokens divided by a step constant*, so each
micro-batch returns its additive share and summing the shares gives the full-batch loss and gradient exactly.
When they are None the local counts are used (the micro-batch is the whole batch).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from rlvr.registry import Registry

AGGREGATIONS: Registry[Callable[..., torch.Tensor]] = Registry("loss aggregation")


def _count(given: Optional[float], local: torch.Tensor) -> torch.Tensor | float:
    # max(., 1): an empty micro-batch (all tokens masked) contributes 0 instead of 0/0
    return max(float(given), 1.0) if given is not None else local.clamp(min=1)


@AGGREGATIONS.register("token_mean")
def token_mean(x, den_mask, rows, *, num_tokens=None, num_seqs=None, max_response_len=None):
    """DAPO token-level loss (arXiv 2503.14476 Eq. 12): sum_{i,t} x / sum_{i,t} M over the step."""
    return x.sum() / _count(num_tokens, den_mask.sum())


@AGGREGATIONS.register("seq_mean_token_mean")
def seq_mean_token_mean(x, den_mask, rows, *, num_tokens=None, num_seqs=None, max_response_len=None):
    """GRPO (DeepSeekMath Eq. 3): (1/N) sum_i (1/L_i) sum_t x; rows with no valid token are not in N."""
    per_row = x.sum(-1) / den_mask.sum(-1).clamp(min=1)  # [B]
    return (per_row * rows).sum() / _count(num_seqs, rows.sum())


@AGGREGATIONS.register("seq_mean_token_sum")
def seq_mean_token_sum(x, den_mask, rows, *, num_tokens=None, num_seqs=None, max_response_len=None):
    """(1/N) sum_i sum_t x (verl `seq-mean-token-sum`)."""
    return x.sum() / _count(num_seqs, rows.sum())


@AGGREGATIONS.register("constant")
def constant(x, den_mask, rows, *, num_tokens=None, num_seqs=None, max_response_len=None):
    """Dr. GRPO (arXiv 2503.20783, oat / TRL `dr_grpo`): sum_{i,t} x / (N * L_max), L_max the fixed budget."""
    if not max_response_len:
        raise ValueError("aggregation 'constant' needs algorithm.max_response_len (the generation budget L_max)")
    return x.sum() / (_count(num_seqs, rows.sum()) * float(max_response_len))
