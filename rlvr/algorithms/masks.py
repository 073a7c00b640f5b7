"""Token masks (no-grad; algorithms.md §3, §7, §9.2 stage 5): `fn(valid [B, T] bool, inp, s) -> keep [B, T]`.

Each mask declares what it gates and whether removed tokens leave the denominators (components.py):
* `truncated`, `tis_seq` gate every term and shrink: the tokens leave the loss, the KL / entropy terms and
  every denominator (token counts and N), as if they had not been sampled (DAPO overlong filtering, TRL
  `mask_truncated_completions`);
* `forking` gates only the policy gradient: TRL and the 80/20 authors' code keep the KL term over every
  response token; its token-mean denominator keeps counting the masked tokens unless `renorm` (paper vs
  authors' code, algorithms.md §7). It never changes N.
Scope: statistics (the forking top-k) are taken over the micro-batch passed to token_loss, as in the authors'
code; `count` lets step_normalizers reproduce the kept-token count before the training forward.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rlvr.algorithms.components import REGISTRIES, register_mask
from rlvr.algorithms.inputs import TokenInputs

MASKS = REGISTRIES["mask"]


@register_mask("truncated", gates="all", shrinks=True, inputs=["truncated"],
               paper="DAPO overlong filtering, arXiv 2503.14476 §3.4")
def truncated_mask(valid: torch.Tensor, inp: TokenInputs, s: None) -> torch.Tensor:
    """Truncated responses get no loss (and leave every denominator)."""
    trunc = inp.need("truncated", "mask truncated").to(torch.bool)  # [B]
    return valid & ~trunc[:, None]  # [B, T]


@dataclass
class TISSeqSettings:
    cap: float = 2.0  # keep a row iff its sequence ratio prod_t pi_old / pi_sampler is within [1/cap, cap]


@register_mask("tis_seq", TISSeqSettings, gates="all", shrinks=True, inputs=["old_logprobs", "sampler_logprobs"],
               paper="sequence-level rejection of training-inference mismatch (Yao et al. 2025, TIS)")
def tis_seq_mask(valid: torch.Tensor, inp: TokenInputs, s: TISSeqSettings) -> torch.Tensor:
    """Drop rows whose ratio prod_t pi_old / pi_sampler leaves [1/cap, cap]."""
    old = inp.need("old_logprobs", "mask tis_seq")
    sampler = inp.need("sampler_logprobs", "mask tis_seq")
    log_ratio = ((old - sampler) * valid).sum(-1)  # [B] log of the sequence ratio
    ok = log_ratio.abs() <= math.log(s.cap)  # [B]
    return valid & ok[:, None]  # [B, T]


@dataclass
class ForkingSettings:
    top_frac: float = 0.2  # fraction of the valid tokens (highest entropy) that keep their gradient
    renorm: bool = False  # token-mean over the kept tokens (authors' code) instead of all valid tokens (paper)

    def __post_init__(self):
        if not 0 < self.top_frac <= 1:
            raise ValueError(f"top_frac must be in (0, 1], got {self.top_frac}")


def forking_keep_count(n_valid: int, s: ForkingSettings) -> int:
    """k = ceil(top_frac * |V|) (80/20 code); the 1e-9 guards float noise such as 0.2 * 15 = 3.0000000000000004."""
    return min(n_valid, math.ceil(s.top_frac * n_valid - 1e-9)) if n_valid > 0 else 0


@register_mask("forking", ForkingSettings, gates="pg", shrinks=lambda s: s.renorm, count=forking_keep_count,
               inputs=["entropy"], paper="Beyond the 80/20 Rule (forking tokens), arXiv 2506.01939")
def forking_mask(valid: torch.Tensor, inp: TokenInputs, s: ForkingSettings) -> torch.Tensor:
    """Train only on the top top_frac of valid tokens by current-policy entropy (top-k over the micro-batch,
    ties broken by torch.topk)."""
    ent = inp.need("entropy", "mask forking").detach()  # [B, T]
    k = forking_keep_count(int(valid.sum()), s)
    scores = ent.float().masked_fill(~valid, float("-inf")).flatten()  # [B*T]
    keep = torch.zeros_like(scores, dtype=torch.bool)
    keep[scores.topk(k).indices] = True
    return keep.view_as(valid) & valid  # [B, T]
