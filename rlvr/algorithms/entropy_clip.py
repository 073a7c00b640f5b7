"""Clip_B / Clip_V — entropy-discriminator clipping ("On the Entropy Dynamics in Reinforcement
Fine-Tuning of Large Language Models", Wang, Xie et al., arXiv 2602.03392; implementation:
Trinity-RFT).

A logit step on the sampled token k changes the entropy by -eps S_k, S_k = p_k (H + log p_k) (Thm
3.2); a PG step moves the logits along e_k - p, so dH ~ -eta A (S_k - E_pi[S]), E_pi[S] = sum_j
p_j^2 (H + log p_j) (Thm 3.3). Negative-advantage tokens whose step would raise or drop the entropy
abnormally are removed:

    Clip_B  S = p (H + lp); over the loss tokens: mean, population std sigma (< 1e-12: keep all)
            drop A < 0 tokens with S - mean < -mu sigma (A >= 0 tokens are kept)
    Clip_V  D = E_pi[S] - S (not centred); sigma_D its population std (sigma_D < 1e-12: keep all)
            violators: A <= 0 tokens with D > mu sigma_D; if they exceed max_frac of the loss
            tokens and the A < 0 violators exceed cap = max(int(max_frac n), 1), drop only the
            cap A < 0 violators of largest D
            (A == 0 violators stay dropped)

Trinity rewrites `response_mask`, so dropped tokens leave the token-mean denominator: the masks gate
the policy gradient and shrink the denominators. Every input is pre-update (old pass: old_logprobs,
old_entropy and, for Clip_V, E_pi[S] as the LogitStat `expected_disc`), so `step_normalizers` counts
the kept tokens exactly.

Code vs paper (Trinity-RFT 7305496a, `clipb_advantage.py::ClipBAdvantageFn`,
`clipv_advantage.py::ClipVAdvantageFn`):
* Scope. Trinity computes the statistics once over the whole step batch (all ranks) in the advantage
  function. Here they are over the loss tokens of the micro-batch given to the mask (token_loss /
  step_normalizers), because a mask sees one micro-batch; with a micro_batch_tokens budget of 16k
  tokens the population statistics are estimated from ~16k tokens instead of the batch's.
  Micro-batch = step (one micro-batch) reproduces Trinity.
* Clip_B reads the rollout engine's log-probs (`rollout_log_probs`) while its comment says
  "recomputed"; the paper's S is the policy's. `logprobs: old` (default) uses the trainer's old
  pass, `sampler` the code's choice.
* Clip_V: `necs` (E_pi[S]) has no published producer (the README says "Coming soon"): we compute it
  from the old pass's logits. mu: the constructor default is 2.0 but `default_args` (what a config
  without arguments gets) is 8.5: we default to 8.5. Clip_B keeps A == 0 tokens, Clip_V tests them
  too (as the code).
* Small n: with population std max |z| <= sqrt(n - 1), so mu = 2.5 removes nothing from a
  micro-batch of <= 7 loss tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from rlvr.algorithms.components import LogitStat, register_mask
from rlvr.algorithms.inputs import TokenInputs


def _pop_stats(x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Population mean and std of x over `valid` (denominator n, as Trinity)."""
    m = valid.to(x.dtype)
    n = m.sum().clamp(min=1)
    mean = (x * m).sum() / n
    return mean, (((x - mean) ** 2 * m).sum() / n).sqrt()


def discriminator(lp: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
    """S = p (H + log p) of the sampled token [B, T]: minus dH per unit logit step on it."""
    return lp.exp() * (entropy + lp)


def expected_disc(logits: torch.Tensor, targets: torch.Tensor, s=None) -> torch.Tensor:
    """E_pi[S] = sum_j p_j^2 (H + log p_j) [C] of each position's distribution (logits [C, V])."""
    logp = torch.log_softmax(logits, -1)  # [C, V]
    p = logp.exp()
    h = -(p * logp).sum(-1)  # [C]
    p2 = p * p
    return (p2 * logp).sum(-1) + h * p2.sum(-1)  # [C]


@dataclass
class ClipBSettings:
    mu: float = 2.5  # drop A < 0 tokens with S below mean - mu * std (Trinity default, clipb.yaml)
    logprobs: Literal["old", "sampler"] = "old"  # log-probs in S: old pass (paper) | rollout (code)


@register_mask("clip_b", ClipBSettings, gates="pg", shrinks=True,
               inputs=["old_logprobs", "old_entropy", "sampler_logprobs"],
               paper="Clip_B, On the Entropy Dynamics in RFT of LLMs, arXiv 2602.03392")
def clip_b(valid: torch.Tensor, inp: TokenInputs, s: ClipBSettings) -> torch.Tensor:
    """Keep A >= 0 tokens and A < 0 ones with S - mean(S) >= -mu std(S) (statistics on `valid`)."""
    lp = inp.need("old_logprobs" if s.logprobs == "old" else "sampler_logprobs", "mask clip_b")
    ent = inp.need("old_entropy", "mask clip_b")
    a = inp.need("advantages", "mask clip_b")
    if not valid.any():
        return valid
    disc = discriminator(lp.float(), ent.float())  # [B, T]
    mean, std = _pop_stats(disc, valid)
    if std < 1e-12:
        return valid
    drop = (a < 0) & (disc - mean < -s.mu * std)  # [B, T]
    return valid & ~drop


@dataclass
class ClipVSettings:
    mu: float = 8.5  # drop A <= 0 tokens with D > mu std(D) (Trinity default_args; constructor: 2.0)
    max_frac: float = 1e-4  # above this share of violators, drop only the cap largest-D A < 0 tokens

    def __post_init__(self):
        if not 0 <= self.max_frac <= 1:
            raise ValueError("clip_v: max_frac must be in [0, 1]")


@register_mask("clip_v", ClipVSettings, gates="pg", shrinks=True,
               inputs=["old_logprobs", "old_entropy", "old_expected_disc"],
               stats=[LogitStat("expected_disc", expected_disc)],
               paper="Clip_V, On the Entropy Dynamics in RFT of LLMs, arXiv 2602.03392")
def clip_v(valid: torch.Tensor, inp: TokenInputs, s: ClipVSettings) -> torch.Tensor:
    """Clip_V's one-sided test on D = E_pi[S] - S with Trinity's cap on the dropped fraction."""
    old = inp.need("old_logprobs", "mask clip_v").float()
    ent = inp.need("old_entropy", "mask clip_v").float()
    exp_s = inp.need("old_expected_disc", "mask clip_v").float()
    a = inp.need("advantages", "mask clip_v")
    if not valid.any():
        return valid
    d = exp_s - discriminator(old, ent)  # [B, T]
    _, std = _pop_stats(d, valid)
    if std < 1e-12:
        return valid
    viol = valid & (a <= 0) & (d > s.mu * std)  # [B, T]
    n = int(valid.sum())
    cap = max(int(s.max_frac * n), 1)
    neg = viol & (a < 0)
    if int(viol.sum()) / n > s.max_frac and int(neg.sum()) > cap:
        top = torch.zeros(d.numel(), dtype=torch.bool, device=d.device)
        top[d.masked_fill(~neg, float("-inf")).flatten().topk(cap).indices] = True
        viol = (viol & ~neg) | top.view_as(d)  # the cap largest-D negatives; A == 0 violators stay
    return valid & ~viol
