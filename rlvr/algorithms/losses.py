"""Per-token policy-gradient surrogates (to minimise): `fn(inp, s, keep [B, T] bool) -> Surrogate`.

`keep` marks the tokens that enter the loss; surrogates that take statistics (covariance top-k, BAPO search,
HAPO entropy pivot) take them over `keep` of the micro-batch they are given, as the reference codes do
(algorithms.md §0 "scopes"). The returned per-token loss is aggregated by token_loss, never here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

import torch

from rlvr.algorithms.components import REGISTRIES, register_loss
from rlvr.algorithms.inputs import TokenInputs, masked_mean

Bound = Union[float, torch.Tensor]
LOSSES = REGISTRIES["loss"]


@dataclass
class Surrogate:
    loss: torch.Tensor  # [B, T] per-token loss (anything outside keep is ignored)
    clip_low: torch.Tensor  # [B, T] bool, A < 0 and ratio below the lower bound (no gradient)
    clip_high: torch.Tensor  # [B, T] bool, A > 0 and ratio above the upper bound (no gradient)
    metrics: dict = field(default_factory=dict)


@dataclass
class ClipSettings:
    eps_low: float = 0.2  # lower clip range: ratio >= 1 - eps_low
    eps_high: float = 0.2  # upper clip range: ratio <= 1 + eps_high (DAPO clip-higher: 0.28)
    dual_clip: Optional[float] = None  # dual-clip constant c > 1 for A < 0 (None = off; DAPO scripts use 10)

    def __post_init__(self):
        if self.eps_low < 0 or self.eps_high < 0:
            raise ValueError("eps_low / eps_high must be >= 0")
        if self.dual_clip is not None and self.dual_clip <= 1:
            raise ValueError("dual_clip must be > 1 (or null)")


def log_ratio(inp: TokenInputs) -> torch.Tensor:
    """log pi - log pi_old, clamped to [-20, 20] as verl before exponentiating."""
    return (inp.logprobs - inp.old_logprobs).clamp(-20.0, 20.0)  # [B, T]


def clipped(ratio: torch.Tensor, adv: torch.Tensor, low: Bound, high: Bound,
            dual_clip: Optional[float]) -> Surrogate:
    """PPO-clip with explicit ratio bounds [low, high] (scalars or per-token) and optional dual-clip.

    x = max(-A rho, -A clip(rho, low, high)); dual-clip (Ye et al. 2020, verl clip_ratio_c) for A < 0:
    x = min(x, -A c), which bounds the loss of negative tokens whose ratio exploded.
    """
    s1 = -adv * ratio  # [B, T]
    s2 = -adv * torch.clamp(ratio, low, high)  # [B, T]
    loss = torch.maximum(s1, s2)  # [B, T]
    metrics = {}
    if dual_clip is not None:
        s3 = -adv * dual_clip  # [B, T]
        dual = (adv < 0) & (s3 < loss)  # [B, T]
        loss = torch.where(adv < 0, torch.minimum(loss, s3), loss)
        metrics["_dual"] = dual
    with torch.no_grad():
        clip_low = (adv < 0) & (ratio < low)  # [B, T]
        clip_high = (adv > 0) & (ratio > high)  # [B, T]
    return Surrogate(loss, clip_low, clip_high, metrics)


def _finish(s: Surrogate, keep: torch.Tensor) -> Surrogate:
    """Turn internal masks into fractions over the loss tokens."""
    if "_dual" in s.metrics:
        s.metrics["policy/clipfrac_dual"] = masked_mean(s.metrics.pop("_dual").float(), keep)
    return s


@register_loss("ppo_clip", ClipSettings,
               paper="PPO-clip (Schulman et al. 2017) with decoupled bounds (DAPO clip-higher, arXiv 2503.14476)")
def ppo_clip(inp: TokenInputs, s: ClipSettings, keep: torch.Tensor) -> Surrogate:
    """PPO-clip with decoupled eps_low / eps_high and optional dual-clip."""
    ratio = log_ratio(inp).exp()  # [B, T]
    return _finish(clipped(ratio, inp.advantages, 1 - s.eps_low, 1 + s.eps_high, s.dual_clip), keep)


@register_loss("reinforce", paper="REINFORCE (Williams 1992): the on-policy policy gradient -A log pi")
def reinforce(inp: TokenInputs, s: None, keep: torch.Tensor) -> Surrogate:
    """Plain policy gradient -A log pi (no ratio, no clip): the on-policy REINFORCE estimator."""
    none = torch.zeros_like(keep)
    return Surrogate(-inp.advantages * inp.logprobs, none, none)


@dataclass
class GSPOSettings(ClipSettings):
    eps_low: float = 3e-4  # lower clip of the sequence ratio (paper: 3e-4)
    eps_high: float = 4e-4  # upper clip of the sequence ratio (paper: 4e-4)


@register_loss("gspo", GSPOSettings, paper="GSPO, Group Sequence Policy Optimization, arXiv 2507.18071")
def gspo(inp: TokenInputs, s: GSPOSettings, keep: torch.Tensor) -> Surrogate:
    """GSPO-token (Zheng et al., arXiv 2507.18071, Eq. 13; verl `compute_policy_loss_gspo`).

    s_i = exp(mean_t (lp - lp_old)) over the row's loss tokens; s_{i,t} = sg[s_i] exp(lp - sg[lp]) has the
    value of s_i and the gradient of one token. Log-ratio clamped at 10 as verl. Use seq_mean_token_mean.
    """
    lr = inp.logprobs - inp.old_logprobs  # [B, T]
    seq = (lr * keep).sum(-1) / keep.sum(-1).clamp(min=1)  # [B] mean log-ratio per sequence
    log_s = inp.logprobs - inp.logprobs.detach() + seq.detach()[:, None]  # [B, T]
    ratio = log_s.clamp(max=10.0).exp()  # [B, T]
    return _finish(clipped(ratio, inp.advantages, 1 - s.eps_low, 1 + s.eps_high, s.dual_clip), keep)


def token_cov(inp: TokenInputs, keep: torch.Tensor) -> torch.Tensor:
    """Cov[i,t] = (A - mean_V A)(lp - mean_V lp) over loss tokens V (Cui et al., arXiv 2505.22617 Eq. 11)."""
    with torch.no_grad():
        a, lp = inp.advantages, inp.logprobs.detach()
        return (a - masked_mean(a, keep)) * (lp - masked_mean(lp, keep))  # [B, T]


@dataclass
class ClipCovSettings:
    eps_low: float = 0.2  # PPO lower clip range (the authors' scripts open both to 1.0: the clip_cov preset)
    eps_high: float = 0.2  # PPO upper clip range
    ratio: float = 2e-4  # fraction of the loss tokens detached
    lb: float = 1.0  # covariance lower bound of the candidates
    ub: float = 5.0  # covariance upper bound of the candidates


@register_loss("clip_cov", ClipCovSettings, inputs=["generator"],
               paper="Clip-Cov, The Entropy Mechanism of RL for Reasoning LMs, arXiv 2505.22617 §4")
def clip_cov(inp: TokenInputs, s: ClipCovSettings, keep: torch.Tensor) -> Surrogate:
    """Clip-Cov (verl `compute_policy_loss_clip_cov`).

    Among loss tokens not already clipped by PPO whose Cov lies in (lb, ub), draw k = max(1, floor(ratio |V|))
    uniformly at random (inp.generator) and zero their loss: they get no gradient but stay in the token-mean
    denominator. No dual-clip (verl applies none here).
    """
    ratio = log_ratio(inp).exp()  # [B, T]
    sur = clipped(ratio, inp.advantages, 1 - s.eps_low, 1 + s.eps_high, None)
    with torch.no_grad():
        clipped_by_ppo = (-inp.advantages * torch.clamp(ratio, 1 - s.eps_low, 1 + s.eps_high)
                          > -inp.advantages * ratio)  # [B, T] verl: s2 > s1
        cov = token_cov(inp, keep)  # [B, T]
        cand = keep & ~clipped_by_ppo & (cov > s.lb) & (cov < s.ub)  # [B, T]
        idx = cand.flatten().nonzero().squeeze(-1)  # [C]
        k = max(1, int(s.ratio * int(keep.sum())))
        perm = torch.randperm(idx.numel(), generator=inp.generator, device="cpu").to(idx.device)
        detach = torch.zeros(keep.numel(), dtype=torch.bool, device=keep.device)
        detach[idx[perm[:k]]] = True
        detach = detach.view_as(keep)  # [B, T]
    sur.loss = sur.loss * (~detach)
    sur.metrics["policy/clip_cov_frac"] = masked_mean(detach.float(), keep)
    return sur


@dataclass
class KLCovSettings:
    ratio: float = 2e-3  # fraction of top-covariance tokens penalised (7B value; a fraction, not percent)
    coef: float = 1.0  # weight of |logp - old_logp| on those tokens (paper: 1)


@register_loss("kl_cov", KLCovSettings,
               paper="KL-Cov, The Entropy Mechanism of RL for Reasoning LMs, arXiv 2505.22617 §4")
def kl_cov(inp: TokenInputs, s: KLCovSettings, keep: torch.Tensor) -> Surrogate:
    """KL-Cov (verl `compute_policy_loss_kl_cov`): no clipping; the top k = max(1, floor(ratio |V|)) tokens by
    Cov get + coef |lp - lp_old| (fraction, not percent)."""
    lr = inp.logprobs - inp.old_logprobs  # [B, T]
    loss = -inp.advantages * lr.clamp(-20.0, 20.0).exp()  # [B, T]
    with torch.no_grad():
        n = int(keep.sum())
        cov = token_cov(inp, keep).masked_fill(~keep, float("-inf")).flatten()  # [B*T]
        sel = torch.zeros_like(cov, dtype=torch.bool)
        if n > 0:
            sel[cov.topk(min(n, max(1, int(s.ratio * n)))).indices] = True
        sel = sel.view_as(keep)  # [B, T]
    loss = loss + sel * s.coef * lr.abs()
    none = torch.zeros_like(keep)
    return Surrogate(loss, none, none, {"policy/kl_cov_frac": masked_mean(sel.float(), keep)})
