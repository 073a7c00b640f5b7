"""Advantage estimators: outcome rewards [N, G] (N prompts x G responses) -> advantages [N, G] (or per token).

Each is `fn(rewards [N, G], s, **declared inputs)`; formulas: algorithms.md §1, §2, §5.2, §8.12. Rewards keep
their floating dtype (float64 stays float64). A batch statistic (Lite PPO's std) is taken over the rewards of
every data-parallel rank (`batch_tensor`), as TRL does: a per-rank std would make the objective depend on how
the batch is split.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Literal, Optional

import torch

from rlvr.algorithms.components import REGISTRIES, register_advantage
from rlvr.algorithms.dist import batch_tensor

ADVANTAGES = REGISTRIES["advantage"]


def _check(rewards: torch.Tensor) -> torch.Tensor:
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [N, G] (prompts x responses), got shape {tuple(rewards.shape)}")
    return rewards if rewards.is_floating_point() else rewards.float()


@dataclass
class GroupStdSettings:
    eps: float = 1e-6  # std epsilon of the group z-score (verl 1e-6; TRL 1e-4)


def group_zscore(r: torch.Tensor, eps: float) -> torch.Tensor:
    """(R - mean_g) / (std_g + eps), unbiased std; a singleton group has no baseline -> 0."""
    if r.shape[1] < 2:
        return torch.zeros_like(r)
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps)  # [N, G]


@register_advantage("grpo", GroupStdSettings, paper="GRPO, DeepSeekMath arXiv 2402.03300 §4.1.2")
def grpo(rewards: torch.Tensor, s: GroupStdSettings) -> torch.Tensor:
    """GRPO group z-score: (R - mean_g) / (std_g + eps).

    Unbiased (Bessel) std and eps 1e-6 as verl's `compute_grpo_outcome_advantage`. A singleton group has no
    baseline, so its advantage is 0 (our choice; verl's mean 0 / std 1 would hand it the raw reward).
    """
    return group_zscore(_check(rewards), s.eps)


@register_advantage("dr_grpo", paper="Dr. GRPO, Understanding R1-Zero-like training, arXiv 2503.20783 §3.1")
def dr_grpo(rewards: torch.Tensor, s: None) -> torch.Tensor:
    """Group-centred reward, no std (removes the difficulty bias)."""
    r = _check(rewards)  # [N, G]
    return r - r.mean(1, keepdim=True)  # [N, G]


@register_advantage("rloo", paper="RLOO, Ahmadian et al., arXiv 2402.14740")
def rloo(rewards: torch.Tensor, s: None) -> torch.Tensor:
    """REINFORCE leave-one-out: R_i - mean_{j != i} R_j = G/(G-1) (R_i - mean)."""
    r = _check(rewards)  # [N, G]
    g = r.shape[1]
    if g < 2:
        return torch.zeros_like(r)
    return (r - r.mean(1, keepdim=True)) * (g / (g - 1))  # [N, G]


@dataclass
class LitePPOSettings:
    eps: float = 1e-6  # epsilon added to the batch std
    std: Literal["raw", "centered"] = "raw"  # batch std of the raw rewards (TRL) or of the group-centred ones


@register_advantage("lite_ppo", LitePPOSettings, paper="Lite PPO, Part I: Tricks or Traps?, arXiv 2508.08221")
def lite_ppo(rewards: torch.Tensor, s: LitePPOSettings) -> torch.Tensor:
    """Group-mean baseline, one batch-level std (TRL `scale_rewards="batch"`).

    The paper does not say whether the batch std is over raw or group-centred rewards (algorithms.md §8.12):
    `raw` = std of all rewards (TRL), `centered` = std of the group-centred rewards. Unbiased std as TRL, over
    the whole batch: the rewards of every rank are gathered first.
    """
    r = _check(rewards)  # [N, G]
    centred = r - r.mean(1, keepdim=True)  # [N, G]
    pool = batch_tensor(r if s.std == "raw" else centred)  # [N_all, G]
    std = pool.std() if pool.numel() > 1 else pool.new_tensor(0.0)
    return centred / (std + s.eps)  # [N, G]


@dataclass
class TLGASettings:
    eps: float = 1e-6  # epsilon added to the token-level std
    adv_max: float = 5.0  # a group where any |A| >= adv_max falls back to the GRPO z-score


@register_advantage("hapo_tlga", TLGASettings, inputs=["lengths"],
                    paper="HAPO token-level group average, arXiv 2509.16591 (code compute_hapo_outcome_advantage)")
def hapo_tlga(rewards: torch.Tensor, s: TLGASettings, lengths: torch.Tensor) -> torch.Tensor:
    """Every token carries its response's reward: group mean and population std weighted by lengths L_i
    (algorithms.md §5.2). A group where any |A_i| >= adv_max (a very short outlier dominates) falls back to the
    GRPO z-score."""
    r = _check(rewards)  # [N, G]
    w = lengths.to(r).clamp(min=0)  # [N, G]
    tot = w.sum(1, keepdim=True).clamp(min=1e-12)  # [N, 1]
    mu = (w * r).sum(1, keepdim=True) / tot  # [N, 1]
    sigma = ((w * (r - mu) ** 2).sum(1, keepdim=True) / tot).sqrt()  # [N, 1]
    adv = (r - mu) / (sigma + s.eps)  # [N, G]
    fallback = (adv.abs() >= s.adv_max).any(1, keepdim=True)  # [N, 1]
    return torch.where(fallback, group_zscore(r, s.eps), adv)  # [N, G]


def compute_advantages(rewards: torch.Tensor, name: str = "grpo", settings: Optional[object] = None,
                       **kwargs) -> torch.Tensor:
    """`rewards [N, G] -> advantages` with estimator `name`.

    `kwargs` are the estimator's declared inputs (`lengths=`, `old_entropy=`, ...) and/or its settings by field
    name (`eps=1.0`); `settings` may instead be the settings dataclass itself. An unknown keyword raises naming
    the closest valid one.
    """
    comp = ADVANTAGES.get(name)
    names = [f.name for f in fields(comp.settings)] if comp.settings else []
    inputs = [i.split(":")[0] for i in comp.inputs]
    for key in kwargs:
        if key not in names and key not in inputs:
            close = difflib.get_close_matches(key, names + inputs, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"compute_advantages({name!r}): unknown keyword {key!r}{hint}")
    if settings is None and comp.settings is not None:
        settings = comp.settings(**{k: v for k, v in kwargs.items() if k in names})
    missing = [i for i in inputs if kwargs.get(i) is None]
    if missing:
        raise ValueError(f"advantage {name!r} needs {', '.join(missing)} (declared inputs: {', '.join(inputs)})")
    return comp(rewards, settings, **{k: kwargs[k] for k in inputs})
