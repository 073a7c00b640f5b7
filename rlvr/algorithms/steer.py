"""STEER — Stabilizing Token-level Entropy-changE via Reweighting ("Rethinking Entropy Interventions in
RLVR: An Entropy Change Perspective", Hao et al., arXiv 2510.10150).

A policy-gradient step on token y changes the entropy by about Omega = (A / p_old) p (1 - p) (log p
+ H): tokens with a large predicted entropy change get a smaller weight, so no few tokens swing the
entropy:

    u = |Omega|, Omega = (A / p_old) * p (1 - p) * (log p + H_old)   p: current prob of the token
    linear: w = w_max - (u - u_min) / (u_max - u_min) (w_max - w_min)   (u_max = u_min: the middle)
    exp:    w = clamp(exp(-k u), w_min, 1), k = -ln(w_min) / max(u_max, 0.02)

The weight multiplies the PPO-clip term (dual clip) token by token; the token-mean denominator stays
the valid token count. As code (`zz-haooo/STEER` b31df71, `core_algos.compute_token_weights`): p
clamped to [1e-8, 1 - 1e-8], p_old to [1e-8, 1], a non-finite Omega counts as 0, H_old is the old
pass's full-vocabulary entropy. Code vs paper: the code computes p (1 - p) where a variable name
suggests p (1 - p)^2 was once considered; it uses the current p (detached) in p (1 - p) and log p,
the old one only in A / p_old. Scope: u_min / u_max over the valid tokens of the micro-batch given
to token_loss (the authors ran 8 responses per GPU micro-batch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from rlvr.algorithms.components import register_weight
from rlvr.algorithms.inputs import TokenInputs


@dataclass
class SteerSettings:
    mapping: Literal["linear", "exp"] = "linear"  # |Omega| -> weight (run_linear.sh | run_exp.sh)
    w_min: float = 0.8  # weight of the largest |Omega|
    w_max: float = 1.2  # linear: weight of the smallest |Omega| (the exp map caps at 1)
    floor: float = 0.02  # exp: k = -ln(w_min) / max(u_max, floor) (the code's constant)

    def __post_init__(self):
        if not 0 < self.w_min <= self.w_max or self.floor <= 0:
            raise ValueError("steer: need 0 < w_min <= w_max and floor > 0")


def entropy_change(inp: TokenInputs) -> torch.Tensor:
    """|Omega| [B, T]: first-order entropy change of a PG step on each sampled token (detached)."""
    with torch.no_grad():
        p = inp.logprobs.detach().exp().clamp(1e-8, 1 - 1e-8)  # [B, T]
        p_old = inp.old_logprobs.exp().clamp(1e-8, 1.0)  # [B, T]
        h = inp.need("old_entropy", "weight steer").to(p.dtype)  # [B, T]
        om = inp.advantages / p_old * p * (1 - p) * (p.log() + h)  # [B, T]
        return torch.where(torch.isfinite(om), om, torch.zeros_like(om)).abs()


@register_weight("steer", SteerSettings, inputs=["old_entropy"],
                 paper="STEER, Rethinking Entropy Interventions in RLVR, arXiv 2510.10150")
def steer(inp: TokenInputs, s: SteerSettings, keep: torch.Tensor) -> torch.Tensor:
    """Per-token weight from |Omega| (module docstring), min / max over the micro-batch."""
    u = entropy_change(inp)  # [B, T]
    if not keep.any():
        return torch.zeros_like(u)
    lo, hi = u[keep].min(), u[keep].max()
    if s.mapping == "linear":
        if hi > lo:
            w = s.w_max - (u - lo) * ((s.w_max - s.w_min) / (hi - lo))  # [B, T]
        else:
            w = torch.full_like(u, (s.w_min + s.w_max) / 2)
        w = w.clamp(s.w_min, s.w_max)
    else:
        k = -math.log(s.w_min) / max(float(hi), s.floor)
        w = torch.exp(-k * u).clamp(s.w_min, 1.0)  # [B, T]
    return w * keep
