"""Token masks and training-inference mismatch weights (no-grad; algorithms.md §3, §7, §9.2 stage 5).

Two kinds of mask, both `fn(valid [B, T] bool, inp: TokenInputs, cfg) -> keep [B, T] bool`:
* removing masks (`truncated`, `tis_seq`): the tokens leave the loss AND every denominator (token counts and
  N), as if they had not been sampled (DAPO overlong filtering, TRL `mask_truncated_completions`);
* gradient masks (`token_mask: forking`): the tokens carry no loss; the token-mean denominator keeps counting
  them unless `forking_renorm` (paper vs authors' code, algorithms.md §7). They never change N.
Scope: statistics (the forking top-k) are taken over the micro-batch passed to token_loss, as in the
authors' code; `step_normalizers` reproduces the resulting kept-token count when forking_renorm is on.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from rlvr.algorithms.inputs import TokenInputs
from rlvr.registry import Registry

MASKS: Registry[Callable[..., torch.Tensor]] = Registry("token mask")


@MASKS.register("truncated")
def truncated_mask(valid: torch.Tensor, inp: TokenInputs, cfg) -> torch.Tensor:
    """DAPO overlong filtering (arXiv 2503.14476 §3.4): truncated responses get no loss."""
    trunc = inp.need("truncated", "mask_truncated").to(torch.bool)  # [B]
    return valid & ~trunc[:, None]  # [B, T]


@MASKS.register("tis_seq")
def tis_seq_mask(valid: torch.Tensor, inp: TokenInputs, cfg) -> torch.Tensor:
    """Sequence-level rejection: drop rows whose ratio prod_t pi_old / pi_sampler leaves [1/cap, cap]."""
    old = inp.need("old_logprobs", "tis=seq_mask")
    sampler = inp.need("sampler_logprobs", "tis=seq_mask")
    log_ratio = ((old - sampler) * valid).sum(-1)  # [B] log of the sequence ratio
    ok = log_ratio.abs() <= math.log(cfg.tis_cap)  # [B]
    return valid & ok[:, None]  # [B, T]


def forking_keep_count(n_valid: int, frac: float) -> int:
    """k = ceil(frac * |V|) (80/20 code); the 1e-9 guards float noise such as 0.2 * 15 = 3.0000000000000004."""
    return min(n_valid, math.ceil(frac * n_valid - 1e-9)) if n_valid > 0 else 0


@MASKS.register("forking")
def forking_mask(valid: torch.Tensor, inp: TokenInputs, cfg) -> torch.Tensor:
    """Beyond the 80/20 Rule (Wang et al., arXiv 2506.01939): train only on the top forking_top_frac of valid
    tokens by current-policy entropy (top-k over the micro-batch, ties broken by torch.topk)."""
    ent = inp.need("entropy", "token_mask=forking").detach()  # [B, T]
    k = forking_keep_count(int(valid.sum()), cfg.forking_top_frac)
    scores = ent.float().masked_fill(~valid, float("-inf")).flatten()  # [B*T]
    keep = torch.zeros_like(scores, dtype=torch.bool)
    keep[scores.topk(k).indices] = True
    return keep.view_as(valid) & valid  # [B, T]


forking_mask.keep_count = forking_keep_count  # lets step_normalizers count kept tokens without entropy


def active_masks(cfg) -> list[tuple[str, bool]]:
    """(mask name, removes-from-denominators) in application order for this config."""
    out = []
    if cfg.mask_truncated:
        out.append(("truncated", True))
    if cfg.tis == "seq_mask":
        out.append(("tis_seq", True))
    if cfg.token_mask:
        out.append((cfg.token_mask, False))
    return out


def apply_masks(inp: TokenInputs, cfg) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """-> valid [B, T] (denominator tokens), keep [B, T] (loss tokens), metrics `policy/masked_frac_<mask>`."""
    base = inp.loss_mask
    valid, keep, metrics = base, base, {}
    n_base = base.sum().clamp(min=1)
    with torch.no_grad():
        for name, removes in active_masks(cfg):
            new = MASKS.get(name)(keep, inp, cfg)  # [B, T]
            metrics[f"policy/masked_frac_{name}"] = (keep & ~new).sum() / n_base
            keep = new
            if removes:
                valid = new
    return valid, keep, metrics


def tis_token_weights(inp: TokenInputs, cfg) -> torch.Tensor:
    """Truncated importance sampling (Yao et al., "Your efficient RL framework secretly brings you off-policy
    RL training", 2025): w = min(pi_old / pi_sampler, cap) per token, detached."""
    old = inp.need("old_logprobs", "tis=token")
    sampler = inp.need("sampler_logprobs", "tis=token")
    return (old - sampler).detach().clamp(max=20.0).exp().clamp(max=cfg.tis_cap)  # [B, T]
