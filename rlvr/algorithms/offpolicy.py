"""Off-policy corrections for stale or mismatched samples (asynchronous training, inference-engine mismatch).

Three policies meet here: the behaviour policy that sampled the tokens (the engine's log-probs,
`sampler_logprobs`, possibly several versions old), the proximal policy (`old_logprobs`: the learner's weights
before this update, recomputed by the learner) and the policy being trained (`logprobs`). The ratio
pi / pi_old of the policy loss keeps the trust region around the proximal policy; these components correct
for pi_old / pi_behav:
  * `decoupled` (weight) — AReaL's decoupled PPO (Fu et al., arXiv 2505.24298): w = pi_old / pi_behav per token,
    tokens with w above `cap` rejected (w = 0; they stay in the denominators, as AReaL) or truncated at `cap`.
    With ppo_clip as the loss this is AReaL's objective exactly (their proximal policy = our old_logprobs).
  * `tis` (weight, weights.py) — truncated importance sampling, w = min(pi_old / pi_behav, cap).
  * `icepop` (weight) — IcePop (Ling team, Ring-1T arXiv 2510.18855): k = pi_old / pi_behav kept as the weight
    inside [low, high], 0 outside (two-sided; masked tokens stay in the denominators as in TRL / slime).
  * `geo_seq` (mask) — sequence-level rejection on the geometric-mean ratio g_i = exp(mean_t log k): drop rows
    with g outside [low, high] from every term and the denominators (verl `seq_mean_k1`; verl's code bounds
    1/g, not g as its docs say — the two agree only for reciprocal bounds; here the bounds are on g).
Every token ratio uses log k clamped to [-20, 20] (verl).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from rlvr.algorithms.components import register_mask, register_weight
from rlvr.algorithms.inputs import TokenInputs


def _log_k(inp: TokenInputs, why: str) -> torch.Tensor:
    """log pi_old - log pi_behav per token, detached."""
    sampler = inp.need("sampler_logprobs", why)
    return (inp.old_logprobs - sampler).detach().clamp(-20.0, 20.0)  # [B, T]


@dataclass
class DecoupledSettings:
    cap: float = 5.0  # behaviour -> proximal importance weight bound (AReaL examples: 5.0)
    mode: Literal["mask", "truncate"] = "mask"  # AReaL rejection: drop tokens above cap | clamp them at cap


@register_weight("decoupled", DecoupledSettings, inputs=["sampler_logprobs"],
                 paper="decoupled PPO, AReaL (Fu et al., arXiv 2505.24298)")
def decoupled(inp: TokenInputs, s: DecoupledSettings, keep: torch.Tensor) -> torch.Tensor:
    """w = pi_old / pi_behav; above `cap` -> 0 (mask) or cap (truncate). AReaL's code also drops tokens whose
    log-ratio is non-finite; clamping log k to +-20 keeps every weight finite here."""
    w = _log_k(inp, "weight decoupled").exp()  # [B, T]
    return torch.where(w > s.cap, torch.zeros_like(w), w) if s.mode == "mask" else w.clamp(max=s.cap)


@dataclass
class IcePopSettings:
    low: float = 0.5  # alpha: keep tokens with pi_old / pi_behav >= low (TRL's IcePop test: 0.5)
    high: float = 5.0  # beta: ... and <= high (TRL 5.0; slime's defaults are [0, 2])


@register_weight("icepop", IcePopSettings, inputs=["sampler_logprobs"],
                 paper="IcePop two-sided masking (Ling team, Ring-1T, arXiv 2510.18855)")
def icepop(inp: TokenInputs, s: IcePopSettings, keep: torch.Tensor) -> torch.Tensor:
    """k = pi_old / pi_behav inside [low, high], else 0."""
    k = _log_k(inp, "weight icepop").exp()  # [B, T]
    return torch.where((k >= s.low) & (k <= s.high), k, torch.zeros_like(k))


@dataclass
class GeoSeqSettings:
    low: float = 0.5  # keep a row iff its geometric-mean ratio g >= low
    high: float = 2.0  # ... and g <= high (verl's Geo-RS preset is far tighter: [0.999, 1.001])

    def __post_init__(self):
        if not 0 < self.low <= 1 <= self.high:
            raise ValueError("need 0 < low <= 1 <= high")


@register_mask("geo_seq", GeoSeqSettings, gates="all", shrinks=True, inputs=["old_logprobs", "sampler_logprobs"],
               paper="sequence masking on the geometric-mean ratio (verl rollout_rs=seq_mean_k1, 'Geo-RS')")
def geo_seq(valid: torch.Tensor, inp: TokenInputs, s: GeoSeqSettings) -> torch.Tensor:
    """Drop rows whose g = exp(mean_t log(pi_old / pi_behav)) leaves [low, high]."""
    log_k = _log_k(inp, "mask geo_seq")  # [B, T]
    mean = (log_k * valid).sum(-1) / valid.sum(-1).clamp(min=1)  # [B]
    ok = (mean >= math.log(s.low)) & (mean <= math.log(s.high))  # [B]
    return valid & ok[:, None]  # [B, T]
