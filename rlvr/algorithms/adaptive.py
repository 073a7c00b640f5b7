"""Surrogates whose clip bounds adapt to the batch: BAPO (bounds searched per update) and HAPO (per-token
bounds and advantages from normalized entropy). Registered in LOSSES; statistics over the micro-batch.
"""
from __future__ import annotations

import torch

from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.algorithms.losses import LOSSES, Surrogate, _finish, clipped, log_ratio

# ----------------------------------------------------------------------------------------------- BAPO


def bapo_path(cfg) -> list[tuple[float, float]]:
    """The (c_low, c_high) states Algorithm 1 of BAPO (Xi et al., arXiv 2510.18927) visits if it never stops.

    high_first (paper): while c_low + d_low <= b_low: widen c_high by d_high while it fits, else raise c_low.
    low_first (released code `recipe/bapo/policy_loss.py`): raise c_low up to its max, then c_high.
    """
    lo, hi = cfg.bapo_c_low_min, cfg.bapo_c_high_min
    b_lo, b_hi, d_lo, d_hi, tol = cfg.bapo_c_low_max, cfg.bapo_c_high_max, cfg.bapo_step_low, cfg.bapo_step_high, 1e-9
    if d_lo <= 0 or d_hi <= 0 or lo > b_lo or hi > b_hi:
        raise ValueError("algorithm.bapo_*: steps must be > 0 and each *_min <= its *_max")
    path = [(lo, hi)]
    while True:
        if cfg.bapo_order == "high_first":
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
    elif count == "unclipped":
        p = (r_p * a_p * (r_p < hi)).sum(-1)  # [K]
        n = (r_n * a_n * (r_n > lo)).abs().sum(-1)  # [K]
    else:
        raise ValueError(f"algorithm.bapo_count must be 'all' or 'unclipped', got {count!r}")
    return p, n


@LOSSES.register("bapo")
def bapo(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """BAPO: take the first state of `bapo_path` where positive tokens carry >= bapo_rho0 of the loss,
    rho_pos = P / (P + Nn) (the code's ratio target r equals rho0 = r / (1 + r)); the last state if none does.
    Then PPO-clip with the explicit bounds [c_low, c_high] (+ dual-clip). Computed on this micro-batch; the
    released code also all-reduces P, Nn over data-parallel ranks (not done here)."""
    ratio = log_ratio(inp).exp()  # [B, T]
    path = bapo_path(cfg)
    with torch.no_grad():
        c_low = ratio.new_tensor([p[0] for p in path])  # [K]
        c_high = ratio.new_tensor([p[1] for p in path])  # [K]
        p, n = bapo_contributions(ratio.detach(), inp.advantages, keep, c_low, c_high, cfg.bapo_count)
        frac = torch.where(p + n > 0, p / (p + n).clamp(min=1e-30), torch.ones_like(p))  # [K] no signal -> done
        ok = (frac >= cfg.bapo_rho0).nonzero()
        k = int(ok[0]) if ok.numel() else len(path) - 1
    lo, hi = path[k]
    s = clipped(ratio, inp.advantages, lo, hi, cfg.dual_clip)
    s.metrics.update({"policy/bapo_c_low": lo, "policy/bapo_c_high": hi, "policy/bapo_pos_frac": frac[k]})
    return _finish(s, keep)


# ----------------------------------------------------------------------------------------------- HAPO


def hapo_hhat(entropy: torch.Tensor, keep: torch.Tensor, pivot_q: float, code_compat: bool) -> torch.Tensor:
    """Normalized entropy h-hat in [-1, 1] (HAPO arXiv 2509.16591, code `compute_entropy_h`, algorithms.md §5.0).

    u = log H; pivot = nearest-rank q-quantile of u over keep; sigma = RMS of (u - pivot); h = (u - pivot)/sigma;
    positives scaled by max h+, negatives by |min h-| (paper: low entropy -> negative). code_compat divides
    negatives by min h- itself (the released sign bug: h-hat >= 0 everywhere, V-shaped).
    """
    with torch.no_grad():
        u = entropy.detach().float().clamp(min=1e-8).log()  # [B, T]
        vals = u[keep].sort().values  # [n]
        if vals.numel() == 0:
            return torch.zeros_like(u)
        piv = vals[round(pivot_q * (vals.numel() - 1))]  # torch.quantile(interpolation="nearest")
        sigma = ((vals - piv) ** 2).mean().sqrt().clamp(min=1e-8)
        h = (u - piv) / sigma  # [B, T]
        hk = h[keep]
        pos_max = hk.clamp(min=0).max().clamp(min=1e-8)
        neg_min = hk.clamp(max=0).min()
        neg_div = neg_min.clamp(max=-1e-8) if code_compat else neg_min.abs().clamp(min=1e-8)
        return torch.where(h > 0, h / pos_max, h / neg_div) * keep  # [B, T]


@LOSSES.register("hapo")
def hapo(inp: TokenInputs, cfg, keep: torch.Tensor) -> Surrogate:
    """HAPO training loss (algorithms.md §5.3-5.4): ratio -> h-hat -> asymmetric adaptive clip bounds ->
    differential advantage redistribution (neutral zone from the adapted bounds) -> PPO-clip + dual-clip."""
    ratio = log_ratio(inp).exp()  # [B, T]
    ent = inp.need("entropy", "loss=hapo")
    hh = hapo_hhat(ent, keep, cfg.hapo_entropy_pivot, cfg.hapo_code_compat)  # [B, T]
    a, alpha, beta = inp.advantages, cfg.hapo_clip_alpha, cfg.hapo_adv_beta
    with torch.no_grad():
        high_ent = hh > 0  # [B, T]
        eps_lo = torch.where(high_ent, cfg.eps_low, cfg.eps_low * (1 - alpha * hh))  # [B, T] widen down
        eps_hi = torch.where(high_ent, cfg.eps_high * (1 + alpha * hh), cfg.eps_high)  # [B, T] widen up
        r = ratio.detach()
        neutral = (r > 1 - eps_lo / 2) & (r < 1 + eps_hi / 2)  # [B, T] zone Z
        a_ent = a * (1 + beta * hh)  # [B, T]
        # high entropy: amplify tokens whose ratio already moved; low entropy: damp tokens that have not
        adv = torch.where(high_ent, torch.where(neutral, a, a_ent), torch.where(neutral, a_ent, a))  # [B, T]
    s = clipped(ratio, adv, 1 - eps_lo, 1 + eps_hi, cfg.dual_clip)
    s.metrics.update({"policy/hapo_hhat_mean": masked_mean(hh, keep),
                      "policy/hapo_adv_scale": masked_mean(adv.abs(), keep) / masked_mean(a.abs(), keep).clamp(min=1e-12)})
    return _finish(s, keep)
