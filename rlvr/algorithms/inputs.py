"""The per-micro-batch tensors every mask, weight, loss and regularizer reads (one typed bundle, not arg lists)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch


@dataclass
class TokenInputs:
    logprobs: Optional[torch.Tensor]  # [B, T] current policy, with grad (None inside step_normalizers)
    old_logprobs: Optional[torch.Tensor]  # [B, T] behaviour policy, detached
    advantages: Optional[torch.Tensor]  # [B, T] per-token advantages (a row scalar broadcast over T)
    loss_mask: torch.Tensor  # [B, T] bool, response tokens that may enter the loss
    entropy: Optional[torch.Tensor] = None  # [B, T] current-policy entropy (grad only if declared entropy:grad)
    old_entropy: Optional[torch.Tensor] = None  # [B, T] behaviour-policy entropy (old pass), detached
    ref_logprobs: Optional[torch.Tensor] = None  # [B, T] frozen reference
    sampler_logprobs: Optional[torch.Tensor] = None  # [B, T] inference engine log-probs
    truncated: Optional[torch.Tensor] = None  # [B] bool, response hit the length limit
    generator: Optional[torch.Generator] = None  # randomness (Clip-Cov) for deterministic tests
    num_seqs: Optional[float] = None  # the optimizer step's sequence count (None = this micro-batch is the step)
    extra: dict[str, Any] = field(default_factory=dict)  # [B, T] statistics components provide, by input name
    state: dict[str, Any] = field(default_factory=dict)  # this component's persistent state (anchors, ...)

    def need(self, name: str, why: str) -> Any:
        value = getattr(self, name, None) if name in self.__dataclass_fields__ else self.extra.get(name)
        if value is None:
            raise ValueError(f"{why} needs `{name}`; pass it to token_loss (declare it in the component's inputs)")
        return value


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over mask (0 when the mask is empty), detached-friendly 0-dim tensor."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1)
