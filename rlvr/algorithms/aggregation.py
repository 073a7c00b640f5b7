"""Loss aggregation: per-token loss [B, T] -> scalar (algorithms.md §0 "Aggregation modes").

Signature: `fn(x, den_mask, rows, *, num_tokens, num_seqs, s) -> 0-dim tensor`, where `x [B, T]` is already
zero outside the tokens that carry loss, `den_mask [B, T]` marks the tokens counted in per-row / per-batch
token denominators, `rows [B]` marks the sequences counted in N, and `s` the aggregation's settings.

Global normalizer: `num_tokens` / `num_seqs` are the optimizer step's totals (all micro-batches and ranks,
see `step_normalizers`). Every mode is a *sum over rows or tokens divided by a step constant*, so each
micro-batch returns its additive share and summing the shares gives the full-batch loss and gradient exactly.
When they are None the local counts are used (the micro-batch is the whole batch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from rlvr.algorithms.components import REGISTRIES, register_aggregation

AGGREGATIONS = REGISTRIES["aggregation"]


def _count(given: Optional[float], local: torch.Tensor) -> torch.Tensor | float:
    # max(., 1): an empty micro-batch (all tokens masked) contributes 0 instead of 0/0
    return max(float(given), 1.0) if given is not None else local.clamp(min=1)


@register_aggregation("token_mean", paper="DAPO token-level loss, arXiv 2503.14476 Eq. 12")
def token_mean(x, den_mask, rows, *, num_tokens=None, num_seqs=None, s=None):
    """sum_{i,t} x / sum_{i,t} M over the step."""
    return x.sum() / _count(num_tokens, den_mask.sum())


@register_aggregation("seq_mean_token_mean", paper="GRPO, DeepSeekMath arXiv 2402.03300 Eq. 3")
def seq_mean_token_mean(x, den_mask, rows, *, num_tokens=None, num_seqs=None, s=None):
    """(1/N) sum_i (1/L_i) sum_t x; rows with no valid token are not in N."""
    per_row = x.sum(-1) / den_mask.sum(-1).clamp(min=1)  # [B]
    return (per_row * rows).sum() / _count(num_seqs, rows.sum())


@register_aggregation("seq_mean_token_sum", paper="verl seq-mean-token-sum")
def seq_mean_token_sum(x, den_mask, rows, *, num_tokens=None, num_seqs=None, s=None):
    """(1/N) sum_i sum_t x."""
    return x.sum() / _count(num_seqs, rows.sum())


@dataclass
class ConstantSettings:
    # the fixed generation budget L_max; None = rollout.max_tokens (filled in when the config loads)
    max_response_len: Optional[int] = field(default=None, metadata={"default_from": "rollout.max_tokens"})


@register_aggregation("constant", ConstantSettings,
                      paper="Dr. GRPO constant normalizer, arXiv 2503.20783 (oat / TRL dr_grpo)")
def constant(x, den_mask, rows, *, num_tokens=None, num_seqs=None, s=None):
    """sum_{i,t} x / (N * L_max), L_max the fixed budget (never the batch's padded length)."""
    if s is None or not s.max_response_len:
        raise ValueError("aggregation 'constant' needs algorithm.constant.max_response_len (the budget L_max)")
    return x.sum() / (_count(num_seqs, rows.sum()) * float(s.max_response_len))
