"""HAPO's normalized entropy h-hat (arXiv 2509.16591, code `compute_entropy_h`; algorithms.md 5.0) — one
implementation for both halves of HAPO: the loss (statistics of the micro-batch) and the adaptive-temperature
sampler (frozen statistics of the previous step's old-policy entropies).

    u = log(max(H, 1e-8)); piv = quantile_q(u, "nearest"); sigma = sqrt(mean((u - piv)^2)); h = (u - piv) / sigma
    h_hat = h / max(h+) for h > 0;  h / |min(h-)| for h <= 0  (sign-correct; `code_compat` divides by min(h-),
    i.e. the released code's V-shaped, non-negative h_hat)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class EntropyStats:
    """Frozen normalization statistics of log-entropy (algorithms.md 5.0)."""

    pivot: float  # quantile_q of u = log H
    sigma: float  # RMS of (u - pivot)
    h_pos_max: float  # max of positive h (> 0), 1.0 when there is none
    h_neg_min: float  # min of non-positive h (<= 0), -1.0 when there is none or it is 0

    @classmethod
    def from_entropy(cls, entropy: torch.Tensor, mask: Optional[torch.Tensor] = None,
                     pivot_q: float = 0.8) -> Optional["EntropyStats"]:
        """Statistics over the valid tokens (`mask` > 0) of `entropy` [B, T]; None if they are degenerate."""
        h = entropy.detach().float()
        u = torch.log(h.clamp_min(1e-8))  # [B, T]
        u = u[mask.bool()] if mask is not None else u.flatten()  # [V] valid tokens
        if u.numel() < 2:
            return None
        # nearest-rank quantile (= torch.quantile "nearest"); kthvalue has no 2^24-element limit
        pivot = u.kthvalue(round(pivot_q * (u.numel() - 1)) + 1).values
        sigma = ((u - pivot) ** 2).mean().sqrt()
        if sigma <= 0:
            return None
        hs = (u - pivot) / sigma  # [V]
        pos, neg = hs[hs > 0], hs[hs <= 0]
        h_pos_max = pos.max().item() if pos.numel() else 1.0
        h_neg_min = neg.min().item() if neg.numel() and neg.min() < 0 else -1.0
        return cls(pivot.item(), sigma.item(), h_pos_max, h_neg_min)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def normalized_entropy(entropy: torch.Tensor, stats: EntropyStats, code_compat: bool = False) -> torch.Tensor:
    """h_hat in [-1, 1] (sign-correct) or [0, 1] (code_compat) for entropies [...] with frozen `stats`."""
    h = (torch.log(entropy.clamp_min(1e-8)) - stats.pivot) / stats.sigma
    neg_div = stats.h_neg_min if code_compat else abs(stats.h_neg_min)
    h_hat = torch.where(h > 0, h / stats.h_pos_max, h / neg_div)
    return h_hat.clamp(-1.0, 1.0)
