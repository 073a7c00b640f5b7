"""HAPO adaptive temperature sampling (arXiv 2509.16591; algorithms.md 5.0-5.1). Pure torch, no vLLM.

Per decoding step: H = entropy of softmax(raw logits) (T = 1), normalized with *frozen* statistics of the
previous training step's old-policy entropies, then the token is sampled at

    T_t = T_base * (1 + tau * clamp(h_hat, -1, 1))        tau = 0.05 -> T_t in [0.95, 1.05] T_base

Statistics (`EntropyStats.from_entropy`, the rollout half of HAPO's `compute_entropy_h`):
    u = log(max(H, 1e-8)); piv = quantile_q(u, "nearest"); sigma = sqrt(mean((u - piv)^2)); h = (u - piv) / sigma
    h_hat = h / max(h+) for h > 0;  h / |min(h-)| for h <= 0  (sign-correct; `code_compat` divides by min(h-),
    i.e. the released code's V-shaped, non-negative h_hat — see algorithms.md 5.0).

Config: rollout.adaptive_temperature = true, rollout.adaptive_temperature_params = {tau, entropy_pivot,
code_compat}. The trainer hands the engine new statistics after each step: `engine.set_entropy_stats(
EntropyStats.from_entropy(entropy, loss_mask, q))`; before the first call the engine samples at T_base.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import torch

PARAM_DEFAULTS = {"tau": 0.05, "entropy_pivot": 0.8, "code_compat": 0.0}  # HAPO qwen2.5_math_7b.sh defaults


def hapo_params(params: dict[str, float]) -> dict[str, float]:
    """rollout.adaptive_temperature_params merged over the defaults; unknown keys are errors."""
    unknown = set(params) - set(PARAM_DEFAULTS)
    if unknown:
        raise ValueError(f"rollout.adaptive_temperature_params: unknown key(s) {sorted(unknown)}; "
                         f"known: {sorted(PARAM_DEFAULTS)}")
    return {**PARAM_DEFAULTS, **{k: float(v) for k, v in params.items()}}


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
        pivot = torch.quantile(u, pivot_q, interpolation="nearest")
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


def token_temperature(raw_logits: torch.Tensor, t_base: float, stats: Optional[EntropyStats], tau: float,
                      code_compat: bool = False) -> torch.Tensor:
    """Per-row temperature T_t [N] from raw (T = 1) logits [N, V] (algorithms.md 5.1)."""
    if stats is None:  # first step: no statistics yet -> fixed T_base
        return torch.full(raw_logits.shape[:1], t_base, dtype=torch.float32, device=raw_logits.device)
    logp = torch.log_softmax(raw_logits.float(), dim=-1)  # [N, V]
    entropy = -(logp.exp() * logp).sum(-1)  # [N]
    return t_base * (1.0 + tau * normalized_entropy(entropy, stats, code_compat))  # [N]
