"""The per-micro-batch tensors every mask and surrogate reads (one typed bundle instead of long arg lists)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class TokenInputs:
    logprobs: Optional[torch.Tensor]  # [B, T] current policy, with grad (None inside step_normalizers)
    old_logprobs: Optional[torch.Tensor]  # [B, T] behaviour policy, detached
    advantages: Optional[torch.Tensor]  # [B, T] per-token advantages (a row scalar broadcast over T)
    loss_mask: torch.Tensor  # [B, T] bool, response tokens that may enter the loss
    entropy: Optional[torch.Tensor] = None  # [B, T] current-policy entropy (grad only needed by the bonus)
    ref_logprobs: Optional[torch.Tensor] = None  # [B, T] frozen reference
    sampler_logprobs: Optional[torch.Tensor] = None  # [B, T] inference engine log-probs
    truncated: Optional[torch.Tensor] = None  # [B] bool, response hit the length limit
    generator: Optional[torch.Generator] = None  # randomness (Clip-Cov) for deterministic tests

    def need(self, name: str, why: str) -> torch.Tensor:
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{why} needs `{name}`; pass it to token_loss")
        return value


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over mask (0 when the mask is empty), detached-friendly 0-dim tensor."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1)
