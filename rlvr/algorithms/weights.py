"""Per-token weights on the policy-gradient term: `fn(inp, s, keep [B, T]) -> [B, T]`, detached, multiplied.

A weight changes how much a token's gradient counts, never which tokens the denominators count.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rlvr.algorithms.components import REGISTRIES, register_weight
from rlvr.algorithms.inputs import TokenInputs

WEIGHTS = REGISTRIES["weight"]


@dataclass
class TISSettings:
    cap: float = 2.0  # truncation of the importance weight pi_old / pi_sampler


@register_weight("tis", TISSettings, inputs=["sampler_logprobs"],
                 paper="truncated importance sampling, Yao et al. 2025 (Your efficient RL framework secretly "
                       "brings you off-policy RL training)")
def tis(inp: TokenInputs, s: TISSettings, keep: torch.Tensor) -> torch.Tensor:
    """w = min(pi_old / pi_sampler, cap) per token: corrects the training-inference mismatch of the sampler."""
    sampler = inp.need("sampler_logprobs", "weight tis")
    return (inp.old_logprobs - sampler).detach().clamp(max=20.0).exp().clamp(max=s.cap)  # [B, T]
