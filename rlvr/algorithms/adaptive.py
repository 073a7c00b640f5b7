"""Surrogates whose clip bounds adapt to the batch: BAPO (bounds searched per update) and HAPO (per-token
bounds and advantages from normalized entropy). Statistics over the micro-batch (algorithms.md §0 scopes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch

from rlvr.algorithms.components import register_loss
from rlvr.algorithms.entropy_norm import EntropyStats, normalized_entropy
from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.algorithms.losses import ClipSettings, Surrogate, _finish, clipped, log_ratio

# ----------------------------------------------------------------------------------------------- BAPO


@dataclass
class BAPOSettings:
    rho0: float = 0.5  # target share of the PG loss carried by A > 0 tokens (code's ratio r = rho0 / (1 - rho0))
    c_low_min: float = 0.6  # a-: first (smallest) lower ratio bound
    c_low_max: float = 0.9  # b-: largest lower ratio bound
    c_high_min: float = 1.2  # a+: first (smallest) upper ratio bound
    c_high_max: float = 3.0  # b+: largest upper ratio bound
    step_low: float = 0.05  # delta2: step of the lower bound (code yaml 0.05)
    step_high: float = 0.05  # delta1: step of the upper bound (code yaml 0.05; example script 0.1)
    order: Literal["high_first", "low_first"] = "high_first"  # paper Alg. 1 widens c_high first; code: c_low
    count: Literal["unclipped", "all"] = "unclipped"  # P, Nn over gradient-carrying tokens | all at clipped value
    dual_clip: Optional[float] = None  # dual-clip constant c > 1 for A < 0 (None = off)

    def __post_init__(self):
        if self.step_low <= 0 or self.step_high <= 0 or self.c_low_min > self.c_low_max \
                or self.c_high_min > self.c_high_max:
            raise ValueError("bapo: steps must be > 0 and each *_min <= its *_max")


def bapo_path(s: BAPOSettings) -> list[tuple[float, float]]:
    """The (c_low, c_high) states Algorithm 1 of BAPO (Xi et al., arXiv 2510.18927) visits if it never stops.

    high_first (paper): while c_low + d_low <= b_low: widen c_high by d_high while it fits, else raise c_low.
    low_first (released code `recipe/bapo/policy_loss.py`): raise c_low up to its max, then c_high.
    """
    lo, hi = s.c_low_min, s.c_high_min
    b_lo, b_hi, d_lo, d_hi, tol = s.c_low_max, s.c_high_max, s.step_low, s.step_high, 1e-9
    path = [(lo, hi)]
    while True:
        if s.order == "high_first":
            if lo + d_lo > b_lo + tol:
                break
            if hi + d_hi <= b_hi + tol:
                hi = round(hi + d_hi, 10)
            else:
                lo = round(lo + d_lo, 10)
        elif lo + d_lo <= b_lo + tol:
            lo = round(lo + d_lo, 10)
        elif hi + d_hi <= b_hi + tol:
            hi = round(hi + d_hi, 10)
        else:
            break
        path.append((lo, hi))
    return path


def bapo_contributions(ratio, adv, keep, c_low, c_high, count: str):
    """Positive / negative shares of the PG loss for each candidate pair -> (P [K], Nn [K]).

    count=unclipped (default; a port quoting the paper): only gradient-carrying tokens, value rho A, so raising
    c_low removes negative tokens as Alg. 1 intends. count=all (released code): v = min(rho, c_high) A for A > 0,
    max(rho, c_low) A for A < 0 (clipped tokens at their clipped value; raising c_low then *grows* Nn).
    """
    pos, neg = keep & (adv > 0), keep & (adv < 0)  # [B, T]
    r_p, a_p = ratio[pos][None], adv[pos][None]  # [1, n+]
    r_n, a_n = ratio[neg][None], adv[neg][None]  # [1, n-]
    hi, lo = c_high[:, None], c_low[:, None]  # [K, 1]
    if count == "all":
        p = (torch.minimum(r_p, hi) * a_p).sum(-1)  # [K]
        n = (torch.maximum(r_n, lo) * a_n).abs().sum(-1)  # [K]
    else:
        p = (r_p * a_p * (r_p < hi)).sum(-1)  # [K]
        n = (r_n * a_n * (r_n > lo)).abs().sum(-1)  # [K]
    return p, n


@register_loss("bapo", BAPOSettings, paper="BAPO, Balanced Policy Optimization with Adaptive Clipping, "
                                           "arXiv 2510.18927")
def bapo(inp: TokenInputs, s: BAPOSettings, keep: torch.Tensor) -> Surrogate:
    """Take the first state of `bapo_path` where positive tokens carry >= rho0 of the loss,
    rho_pos = P / (P + Nn) (the code's ratio target r equals rho0 = r / (1 + r)); the last state if none does.
    Then PPO-clip with the explicit bounds [c_low, c_high] (+ dual-clip).

    A state with P = Nn = 0 is "no signal" only when the micro-batch has no positive token at all; when positive
    tokens exist but none carries gradient (all clipped above c_high), rho_pos = 0 and the search widens on.
    Computed on this micro-batch; the released code also all-reduces P, Nn over data-parallel ranks.
    """
    ratio = log_ratio(inp).exp()  # [B, T]
    path = bapo_path(s)
    with torch.no_grad():
        c_low = ratio.new_tensor([p[0] for p in path])  # [K]
        c_high = ratio.new_tensor([p[1] for p in path])  # [K]
        p, n = bapo_contributions(ratio.detach(), inp.advantages, keep, c_low, c_high, s.count)
        no_positive = not bool((keep & (inp.advantages > 0)).any())
        frac = torch.where(p + n > 0, p / (p + n).clamp(min=1e-30),
                           torch.full_like(p, 1.0 if no_positive else 0.0))  # [K]
        ok = (frac >= s.rho0).nonzero()
        k = int(ok[0]) if ok.numel() else len(path) - 1
    lo, hi = path[k]
    sur = clipped(ratio, inp.advantages, lo, hi, s.dual_clip)
    sur.metrics.update({"policy/bapo_c_low": lo, "policy/bapo_c_high": hi, "policy/bapo_pos_frac": frac[k]})
    return _finish(sur, keep)


# ----------------------------------------------------------------------------------------------- HAPO


@dataclass
class HAPOSettings(ClipSettings):
    entropy_pivot: float = 0.8  # quantile of log-entropy used as the pivot of h-hat
    clip_alpha: float = 1.0  # asymmetric adaptive clipping strength (0 = fixed eps_low / eps_high)
    adv_beta: float = 1.0  # differential advantage redistribution strength (0 = off)
    code_compat: bool = False  # released code's h-hat (>= 0 everywhere, sign bug) instead of the paper's signed one


def hapo_hhat(entropy: torch.Tensor, keep: torch.Tensor, pivot_q: float, code_compat: bool) -> torch.Tensor:
    """Normalized entropy h-hat in [-1, 1] over the `keep` tokens (entropy_norm.py; algorithms.md §5.0)."""
    with torch.no_grad():
        stats = EntropyStats.from_entropy(entropy, keep, pivot_q)
        if stats is None:
            return torch.zeros_like(entropy, dtype=torch.float32)
        return normalized_entropy(entropy.detach().float(), stats, code_compat) * keep  # [B, T]


@register_loss("hapo", HAPOSettings, inputs=["entropy"],
               paper="HAPO, Heterogeneous Adaptive Policy Optimization, arXiv 2509.16591")
def hapo(inp: TokenInputs, s: HAPOSettings, keep: torch.Tensor) -> Surrogate:
    """HAPO training loss (algorithms.md §5.3-5.4): ratio -> h-hat -> asymmetric adaptive clip bounds ->
    differential advantage redistribution (neutral zone from the adapted bounds) -> PPO-clip + dual-clip."""
    ratio = log_ratio(inp).exp()  # [B, T]
    ent = inp.need("entropy", "loss hapo")
    hh = hapo_hhat(ent, keep, s.entropy_pivot, s.code_compat)  # [B, T]
    a, alpha, beta = inp.advantages, s.clip_alpha, s.adv_beta
    with torch.no_grad():
        high_ent = hh > 0  # [B, T]
        eps_lo = torch.where(high_ent, s.eps_low, s.eps_low * (1 - alpha * hh))  # [B, T] widen down
        eps_hi = torch.where(high_ent, s.eps_high * (1 + alpha * hh), s.eps_high)  # [B, T] widen up
        r = ratio.detach()
        neutral = (r > 1 - eps_lo / 2) & (r < 1 + eps_hi / 2)  # [B, T] zone Z
        a_ent = a * (1 + beta * hh)  # [B, T]
        # high entropy: amplify tokens whose ratio already moved; low entropy: damp tokens that have not
        adv = torch.where(high_ent, torch.where(neutral, a, a_ent), torch.where(neutral, a_ent, a))  # [B, T]
    sur = clipped(ratio, adv, 1 - eps_lo, 1 + eps_hi, s.dual_clip)
    scale = masked_mean(adv.abs(), keep) / masked_mean(a.abs(), keep).clamp(min=1e-12)
    sur.metrics.update({"policy/hapo_hhat_mean": masked_mean(hh, keep), "policy/hapo_adv_scale": scale})
    return _finish(sur, keep)
