"""HAPO adaptive temperature sampling (arXiv 2509.16591; algorithms.md 5.0-5.1). Pure torch, no vLLM.

Per decoding step: H = entropy of softmax(raw logits) (T = 1), normalized with *frozen* statistics of the
previous training step's old-policy entropies, then the token is sampled at

    T_t = T_base * (1 + tau * clamp(h_hat, -1, 1))        tau = 0.05 -> T_t in [0.95, 1.05] T_base

Statistics (`EntropyStats.from_entropy` in rlvr/algorithms/entropy_norm.py, shared with the HAPO loss):
    u = log(max(H, 1e-8)); piv = quantile_q(u, "nearest"); sigma = sqrt(mean((u - piv)^2)); h = (u - piv) / sigma
    h_hat = h / max(h+) for h > 0;  h / |min(h-)| for h <= 0  (sign-correct; `code_compat` divides by min(h-),
    i.e. the released code's V-shaped, non-negative h_hat — see algorithms.md 5.0).

Config: rollout.adaptive_temperature = true, rollout.adaptive_temperature_params = {tau, entropy_pivot,
code_compat}. The trainer hands the engine new statistics after each step: `engine.set_entropy_stats(
EntropyStats.from_entropy(entropy, loss_mask, q))`; before the first call the engine samples at T_base.
"""
from __future__ import annotations

from typing import Optional

import torch

from rlvr.algorithms.entropy_norm import EntropyStats, normalized_entropy  # one implementation, shared with HAPO

PARAM_DEFAULTS = {"tau": 0.05, "entropy_pivot": 0.8, "code_compat": 0.0}  # HAPO qwen2.5_math_7b.sh defaults


def hapo_params(params: dict[str, float]) -> dict[str, float]:
    """rollout.adaptive_temperature_params merged over the defaults; unknown keys are errors."""
    unknown = set(params) - set(PARAM_DEFAULTS)
    if unknown:
        raise ValueError(f"rollout.adaptive_temperature_params: unknown key(s) {sorted(unknown)}; "
                         f"known: {sorted(PARAM_DEFAULTS)}")
    return {**PARAM_DEFAULTS, **{k: float(v) for k, v in params.items()}}


def entropy_stats(entropy: torch.Tensor, mask: torch.Tensor, params: dict[str, float]) -> Optional[EntropyStats]:
    """Statistics of a training batch's old-policy entropies for the next step's sampler (pivot from `params`)."""
    return EntropyStats.from_entropy(entropy, mask, pivot_q=hapo_params(params)["entropy_pivot"])


def token_temperature(raw_logits: torch.Tensor, t_base: float, stats: Optional[EntropyStats], tau: float,
                      code_compat: bool = False) -> torch.Tensor:
    """Per-row temperature T_t [N] from raw (T = 1) logits [N, V] (algorithms.md 5.1)."""
    if stats is None:  # first step: no statistics yet -> fixed T_base
        return torch.full(raw_logits.shape[:1], t_base, dtype=torch.float32, device=raw_logits.device)
    logp = torch.log_softmax(raw_logits.float(), dim=-1)  # [N, V]
    entropy = -(logp.exp() * logp).sum(-1)  # [N]
    return t_base * (1.0 + tau * normalized_entropy(entropy, stats, code_compat))  # [N]


__all__ = ["EntropyStats", "PARAM_DEFAULTS", "entropy_stats", "hapo_params", "normalized_entropy",
           "token_temperature"]
