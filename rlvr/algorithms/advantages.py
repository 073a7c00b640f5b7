"""Advantage estimators: outcome rewards [N, G] (N prompts x G responses) -> advantages [N, G].

One signature per registry entry: `fn(rewards [N, G], *, <extra inputs as keywords>) -> [N, G]`. Extra inputs
use the AlgorithmConfig names (`lite_ppo_std`, `hapo_adv_max`) except `eps` (= algorithm.adv_eps) and
`lengths` (response lengths [N, G], HAPO). Formulas: algorithms.md §1, §2, §5.2, §8.12.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Callable, Optional

import torch

from rlvr.registry import Registry

ADVANTAGES: Registry[Callable[..., torch.Tensor]] = Registry("advantage estimator")


def _check(rewards: torch.Tensor) -> torch.Tensor:
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [N, G] (prompts x responses), got shape {tuple(rewards.shape)}")
    return rewards.float()


@ADVANTAGES.register("grpo")
def grpo(rewards: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """GRPO group z-score (DeepSeekMath, arXiv 2402.03300, §4.1.2): (R - mean_g) / (std_g + eps).

    Unbiased (Bessel) std and eps 1e-6 as verl's `compute_grpo_outcome_advantage`. A singleton group has no
    baseline, so its advantage is 0 (our choice; verl's mean 0 / std 1 would hand it the raw reward).
    """
    r = _check(rewards)  # [N, G]
    if r.shape[1] < 2:
        return torch.zeros_like(r)
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps)  # [N, G]


@ADVANTAGES.register("dr_grpo")
def dr_grpo(rewards: torch.Tensor) -> torch.Tensor:
    """Dr. GRPO (Liu et al., arXiv 2503.20783, §3.1): group-centred reward, no std (removes difficulty bias)."""
    r = _check(rewards)  # [N, G]
    return r - r.mean(1, keepdim=True)  # [N, G]


@ADVANTAGES.register("rloo")
def rloo(rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE leave-one-out (Ahmadian et al., arXiv 2402.14740): R_i - mean_{j != i} R_j = G/(G-1) (R_i - mean)."""
    r = _check(rewards)  # [N, G]
    g = r.shape[1]
    if g < 2:
        return torch.zeros_like(r)
    return (r - r.mean(1, keepdim=True)) * (g / (g - 1))  # [N, G]


@ADVANTAGES.register("lite_ppo")
def lite_ppo(rewards: torch.Tensor, *, eps: float = 1e-6, lite_ppo_std: str = "raw") -> torch.Tensor:
    """Lite PPO (arXiv 2508.08221): group-mean baseline, one batch-level std (TRL `scale_rewards="batch"`).

    The paper does not say whether the batch std is over raw or group-centred rewards (algorithms.md §8.12):
    `raw` = std of all rewards (TRL), `centered` = std of the group-centred rewards. Unbiased std as TRL.
    """
    r = _check(rewards)  # [N, G]
    centred = r - r.mean(1, keepdim=True)  # [N, G]
    if lite_ppo_std not in ("raw", "centered"):
        raise ValueError(f"lite_ppo_std must be 'raw' or 'centered', got {lite_ppo_std!r}")
    pool = r if lite_ppo_std == "raw" else centred
    std = pool.std() if pool.numel() > 1 else pool.new_tensor(0.0)
    return centred / (std + eps)  # [N, G]


@ADVANTAGES.register("hapo")
def hapo(rewards: torch.Tensor, *, lengths: Optional[torch.Tensor] = None, eps: float = 1e-6,
         hapo_adv_max: float = 5.0) -> torch.Tensor:
    """HAPO token-level group average (arXiv 2509.16591; code `compute_hapo_outcome_advantage`, algorithms.md §5.2).

    Every token carries its response's reward: mean and population std of the group weighted by lengths L_i.
    A group where any |A_i| >= hapo_adv_max (a very short outlier dominates) falls back to the GRPO z-score.
    """
    r = _check(rewards)  # [N, G]
    if lengths is None:
        raise ValueError("advantage 'hapo' needs lengths [N, G] (response lengths in tokens)")
    w = lengths.to(r).clamp(min=0)  # [N, G]
    tot = w.sum(1, keepdim=True).clamp(min=1e-12)  # [N, 1]
    mu = (w * r).sum(1, keepdim=True) / tot  # [N, 1]
    sigma = ((w * (r - mu) ** 2).sum(1, keepdim=True) / tot).sqrt()  # [N, 1]
    adv = (r - mu) / (sigma + eps)  # [N, G]
    fallback = (adv.abs() >= hapo_adv_max).any(1, keepdim=True)  # [N, 1]
    return torch.where(fallback, grpo(r, eps=eps), adv)  # [N, G]


_ALIASES = {"adv_eps": "eps"}  # config name -> estimator keyword


def compute_advantages(rewards: torch.Tensor, name: Optional[str] = None, **params) -> torch.Tensor:
    """`rewards [N, G] -> advantages [N, G]` with the estimator `name` (default: params['advantage'] or 'grpo').

    `params` may hold extra inputs (`lengths`, `eps`) and any AlgorithmConfig key (so
    `compute_advantages(r, lengths=L, **asdict(cfg.algorithm))` works); keys an estimator does not use are
    ignored, a key that is neither raises naming the closest valid one.
    """
    from rlvr.config import AlgorithmConfig  # light; avoids a cycle at import time

    valid = {f.name for f in dataclasses.fields(AlgorithmConfig)} | {"eps", "lengths"}
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"compute_advantages: unknown keyword {key!r}{hint}")
    name = name or params.get("advantage") or "grpo"
    fn = ADVANTAGES.get(name)
    kwargs = {_ALIASES.get(k, k): v for k, v in params.items() if k != "eps"}
    if "eps" in params:  # an explicit eps wins over adv_eps
        kwargs["eps"] = params["eps"]
    accepted = inspect.signature(fn).parameters
    return fn(rewards, **{k: v for k, v in kwargs.items() if k in accepted})
