"""Per-token KL estimators between the current policy and the reference (Schulman, "Approximating KL
Divergence", 2020), evaluated at the sampled token with gradient through `logprobs` (GRPO, algorithms.md §1).
"""
from __future__ import annotations

from typing import Callable

import torch

from rlvr.registry import Registry

KL_ESTIMATORS: Registry[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = Registry("kl estimator")


@KL_ESTIMATORS.register("k1")
def k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """log pi - log pi_ref: unbiased, can be negative per token."""
    return logprobs - ref_logprobs  # [B, T]


@KL_ESTIMATORS.register("k2")
def k2(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """0.5 (log pi - log pi_ref)^2: biased, low variance, non-negative."""
    return 0.5 * (logprobs - ref_logprobs) ** 2  # [B, T]


@KL_ESTIMATORS.register("k3")
def k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """exp(d) - d - 1 with d = log pi_ref - log pi (DeepSeekMath Eq. 4); non-negative, unbiased.

    Clamped as verl's `low_var_kl`: d to [-20, 20] before exp, the value to [-10, 10].
    """
    d = (ref_logprobs - logprobs).clamp(-20.0, 20.0)  # [B, T]
    return (d.exp() - d - 1).clamp(-10.0, 10.0)  # [B, T]
