"""CISPO — Clipped IS-weight Policy Optimization (MiniMax-M1, arXiv 2506.13585 §3.1, Eq. 4-7).

PPO-clip drops the gradient of every token whose ratio leaves the trust region; in long reasoning
those are often the rare "fork" tokens (However, Wait, ...). CISPO clips the importance-sampling
*weight* instead and keeps every token's gradient:

    r = exp(lp - lp_old);   w = sg(clip(r, 1 - eps_low, 1 + eps_high));   loss_t = -w * A * lp
    d loss_t / d lp = -w * A            (a clipped token still learns, at the capped rate)

Code vs paper (read in the released implementations; the M1 repository ships no training code):
* Lower clip. The paper sets no lower bound ("we only tuned eps_high"): eps_low = None. verl's
  example script (`run_cispo_qwen2_5_0_5b_gsm8k.sh`) gets the same by clip_ratio_low = 10; slime
  clips below at 1 - eps_clip (0.8) unless `--eps-clip 1.0`; ROLL defaults to [0.9, 1.1]
  (cispo_epsilon_low = cispo_epsilon_high = 0.1).
* Upper bound. verl, slime and ROLL cap the weight at 1 + eps_high. TRL caps it at `epsilon_high`
  itself (an absolute cap, "recommended 5.0" after ScaleRL, arXiv 2510.13786), and its default
  epsilon_high = None falls back to epsilon = 0.2, i.e. w = min(r, 0.2). TRL's 5.0 is eps_high = 4.0
  here (our default).
* Eq. 7's unified mask (ROLL `cispo_use_unified_mask`) zeroes the terms PPO-clip would drop (A > 0
  and r > 1 + eps_high, or A < 0 and r < 1 - eps_low); the tokens stay in the denominator.
* No dual clip and no KL in any implementation (verl's example adds a separate k3 KL loss).
Paper and verl normalise by the step's token count: use `aggregation: token_mean`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from rlvr.algorithms.components import register_loss
from rlvr.algorithms.inputs import TokenInputs
from rlvr.algorithms.losses import Surrogate, log_ratio


@dataclass
class CispoSettings:
    # weight cap 1 + eps_high (TRL / ScaleRL cap 5.0; verl's example 0.2; slime "e.g. 4.0")
    eps_high: float = 4.0
    eps_low: Optional[float] = None  # weight floor 1 - eps_low; None = none, as the paper (ROLL: 0.1)
    # Eq. 7: drop the terms PPO-clip would (A > 0 and r > 1 + eps_high, A < 0 and r < 1 - eps_low)
    unified_mask: bool = False

    def __post_init__(self):
        if self.eps_high < 0 or (self.eps_low is not None and self.eps_low < 0):
            raise ValueError("cispo: eps_high / eps_low must be >= 0")


@register_loss("cispo", CispoSettings, paper="CISPO, MiniMax-M1, arXiv 2506.13585")
def cispo(inp: TokenInputs, s: CispoSettings, keep: torch.Tensor) -> Surrogate:
    """-sg(clip(r, 1 - eps_low, 1 + eps_high)) * A * lp (module docstring: code vs paper).

    clipfrac_high / clipfrac_low count the tokens whose *weight* is capped (any sign of A): unlike
    PPO-clip they keep their gradient."""
    with torch.no_grad():
        ratio = log_ratio(inp).exp()  # [B, T]
        low = None if s.eps_low is None else 1.0 - s.eps_low
        w = ratio.clamp(min=low, max=1.0 + s.eps_high)  # [B, T] stop-gradient IS weight
        clip_high = ratio > 1.0 + s.eps_high  # [B, T]
        clip_low = ratio < low if low is not None else torch.zeros_like(clip_high)  # [B, T]
    loss = -w * inp.advantages * inp.logprobs  # [B, T]
    if s.unified_mask:
        a = inp.advantages
        loss = loss * ~(((a > 0) & clip_high) | ((a < 0) & clip_low))
    return Surrogate(loss, clip_low, clip_high)
