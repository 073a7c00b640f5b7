"""Per-token policy-gradient surrogates (to minimise): `fn(inp, cfg, keep [B, T] bool) -> Surrogate`.

`keep` marks the tokens that enter the loss; surrogates that take statistics (covariance top-k, BAPO search,
HAPO entropy pivot) take them over `keep` of the micro-batch they are given, as the reference codes do
(algorithms.md §0 "scopes"). The returned per-token loss is aggregated by token_loss, never here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import torch

from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.registry import Registry

Bound = Union[float, torch.Tensor]


@dataclass
class Surrogate:
    loss: torch.Tensor  # [B, T] per-token loss (anything outside keep is ignored)
    clip_low: torch.Tensor  # [B, T] bool, A < 0 and ratio below the lower bound (no gradient)
    clip_high: torch.Tensor  # [B, T] bool, A > 0 and ratio above the upper bound (no gradient)
    metrics: dict = field(default_factory=dict)


LOSSES: Registry[Callable[[TokenInputs, object, torch.Tensor], Surrogate]] = Registry("policy loss")


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


@LOSSES.register("ppo_clip")
def ppo_clip(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """PPO-clip (Schulman et al. 2017) with decoupled eps_low / eps_high (DAPO clip-higher, arXiv 2503.14476)."""
    ratio = log_ratio(inp).exp()  # [B, T]
    s = clipped(ratio, inp.advantages, 1 - cfg.eps_low, 1 + cfg.eps_high, cfg.dual_clip)
    return _finish(s, keep)


@LOSSES.register("reinforce")
def reinforce(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """Plain policy gradient -A log pi (no ratio, no clip): the on-policy REINFORCE estimator."""
    none = torch.zeros_like(keep)
    return Surrogate(-inp.advantages * inp.logprobs, none, none)


@LOSSES.register("gspo")
def gspo(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """GSPO-token (Zheng et al., arXiv 2507.18071, Eq. 13; verl `compute_policy_loss_gspo`).

    s_i = exp(mean_t (lp - lp_old)) over the row's loss tokens; s_{i,t} = sg[s_i] exp(lp - sg[lp]) has the
    value of s_i and the gradient of one token. Log-ratio clamped at 10 as verl. Use seq_mean_token_mean.
    """
    lr = inp.logprobs - inp.old_logprobs  # [B, T]
    seq = (lr * keep).sum(-1) / keep.sum(-1).clamp(min=1)  # [B] mean log-ratio per sequence
    log_s = inp.logprobs - inp.logprobs.detach() + seq.detach()[:, None]  # [B, T]
    ratio = log_s.clamp(max=10.0).exp()  # [B, T]
    s = clipped(ratio, inp.advantages, 1 - cfg.eps_low, 1 + cfg.eps_high, cfg.dual_clip)
    return _finish(s, keep)


def token_cov(inp: TokenInputs, keep: torch.Tensor) -> torch.Tensor:
    """Cov[i,t] = (A - mean_V A)(lp - mean_V lp) over loss tokens V (Cui et al., arXiv 2505.22617 Eq. 11)."""
    with torch.no_grad():
        a, lp = inp.advantages, inp.logprobs.detach()
        return (a - masked_mean(a, keep)) * (lp - masked_mean(lp, keep))  # [B, T]


@LOSSES.register("clip_cov")
def clip_cov(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """Clip-Cov (arXiv 2505.22617 §4; verl `compute_policy_loss_clip_cov`).

    Among loss tokens not already clipped by PPO whose Cov lies in (clip_cov_lb, clip_cov_ub), draw
    k = max(1, floor(clip_cov_ratio |V|)) uniformly at random (inp.generator) and zero their loss: they get no
    gradient but stay in the token-mean denominator. No dual-clip (verl applies none here).
    """
    ratio = log_ratio(inp).exp()  # [B, T]
    s = clipped(ratio, inp.advantages, 1 - cfg.eps_low, 1 + cfg.eps_high, None)
    with torch.no_grad():
        clipped_by_ppo = (-inp.advantages * torch.clamp(ratio, 1 - cfg.eps_low, 1 + cfg.eps_high)
                          > -inp.advantages * ratio)  # [B, T] verl: s2 > s1
        cov = token_cov(inp, keep)  # [B, T]
        cand = keep & ~clipped_by_ppo & (cov > cfg.clip_cov_lb) & (cov < cfg.clip_cov_ub)  # [B, T]
        idx = cand.flatten().nonzero().squeeze(-1)  # [C]
        k = max(1, int(cfg.clip_cov_ratio * int(keep.sum())))
        perm = torch.randperm(idx.numel(), generator=inp.generator, device="cpu").to(idx.device)
        detach = torch.zeros(keep.numel(), dtype=torch.bool, device=keep.device)
        detach[idx[perm[:k]]] = True
        detach = detach.view_as(keep)  # [B, T]
    s.loss = s.loss * (~detach)
    s.metrics["policy/clip_cov_frac"] = masked_mean(detach.float(), keep)
    return s


@LOSSES.register("kl_cov")
def kl_cov(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """KL-Cov (arXiv 2505.22617 §4; verl `compute_policy_loss_kl_cov`): no clipping; the top
    k = max(1, floor(kl_cov_ratio |V|)) tokens by Cov get + kl_cov_coef |lp - lp_old| (fraction, not percent)."""
    lr = inp.logprobs - inp.old_logprobs  # [B, T]
    loss = -inp.advantages * lr.clamp(-20.0, 20.0).exp()  # [B, T]
    with torch.no_grad():
        n = int(keep.sum())
        cov = token_cov(inp, keep).masked_fill(~keep, float("-inf")).flatten()  # [B*T]
        sel = torch.zeros_like(cov, dtype=torch.bool)
        if n > 0:
            sel[cov.topk(min(n, max(1, int(cfg.kl_cov_ratio * n)))).indices] = True
        sel = sel.view_as(keep)  # [B, T]
    loss = loss + sel * cfg.kl_cov_coef * lr.abs()
    none = torch.zeros_like(keep)
    return Surrogate(loss, none, none, {"policy/kl_cov_frac": masked_mean(sel.float(), keep)})
