"""Lp-Reg — "Low-probability Tokens Sustain Exploration in RLVR" (Huang et al., arXiv 2510.03222).

Negative-advantage updates push already-rare tokens ("reasoning sparks": Wait, Perhaps, ...) towards
zero. Lp-Reg builds a *proxy* of the behaviour policy that discards the noise tail and renormalises
the rest, and pulls the rarest negative tokens that the proxy still considers plausible back towards
it:

    proxy (old pass, full logits z at the training temperature):
        keep_v = p_v >= kappa * max_v p_v   (rule minp; rule fixed: p_v >= kappa)
        lp_proxy = log softmax(z with z_v = -1e4 off keep)[y]    (a filtered sampled token: ~ -1e4)
    loss (per micro-batch, as the authors' code):
        x   = PPO-clip (no dual clip)
        NEG = loss tokens with A < 0;  k = max(1, int(|NEG| * neg_frac));  if k > 1:
        S   = {the k tokens of NEG with the lowest current lp} & {lp < lp_proxy}
        x_S = -A rho + coef * k3(lp, lp_proxy)
        k3  = exp(d) - d - 1, d = lp_proxy - lp, clamped to [-10, 10]
    (the same for A > 0 with pos_frac; the authors' scripts set it to 0)

Code vs paper (`CarlanLark/Lp-Reg-dev` 33b27e2: `dp_actor.apply_min_p`,
`core_algos.compute_policy_loss_lp_reg`):
* The paper speaks of a forward KL to the proxy on the selected tokens; the code evaluates the k3
  estimator at the sampled token only (an estimate of KL(pi || pi_proxy) under samples of pi). We
  implement the code.
* The selected tokens' PG term is the *unclipped* -A rho; the k3 clamp at 10 (verl `low_var_kl`)
  zeroes the pull once lp_proxy - lp > ~2.53 nats. `k > 1` guard: a micro-batch with fewer than 2 /
  neg_frac negative tokens (200 at 1%) gets no regularisation. Ranking uses the current lp, not
  lp_old.
* The scripts pass clip_ratio_c = 10, which that verl fork never reads: no dual clip. kappa: scripts
  0.02, yaml 0.1.
* The code filters on the T = 1 probabilities and renormalises at the training temperature; we
  filter the training-temperature distribution (identical at T = 1, the value of every authors'
  script).
Scope: the selection is over the micro-batch given to token_loss, as the code; the code then weights
each micro-batch's token mean by its sequence count, we aggregate with the step's normaliser
(token_mean).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from rlvr.algorithms.components import LogitStat, register_loss
from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.algorithms.kl import k3
from rlvr.algorithms.losses import Surrogate, clipped, log_ratio

FILTERED = -1e4  # the code's logit for filtered tokens: a filtered sampled token is never selected


@dataclass
class LpRegSettings:
    eps_low: float = 1.0  # PPO lower clip: ratio >= 1 - eps_low (scripts: 1.0, i.e. ratio >= 0)
    eps_high: float = 9.0  # PPO upper clip: ratio <= 1 + eps_high (scripts: 9.0, i.e. ratio <= 10)
    kappa: float = 0.02  # proxy threshold (scripts 0.02; the yaml default 0.1)
    rule: Literal["minp", "fixed"] = "minp"  # keep p >= kappa * max p | p >= kappa (code's "fixed")
    neg_frac: float = 0.01  # share of A < 0 tokens (lowest current lp) that are candidates (14B: 0.01)
    pos_frac: float = 0.0  # the same for A > 0 tokens (scripts: 0 = off)
    coef: float = 1.0  # beta: weight of k3(lp, lp_proxy) on the selected tokens

    def __post_init__(self):
        if not 0 < self.kappa <= 1 or not 0 <= self.neg_frac <= 1 or not 0 <= self.pos_frac <= 1:
            raise ValueError("lp_reg: kappa must be in (0, 1], neg_frac / pos_frac in [0, 1]")
        if self.eps_low < 0 or self.eps_high < 0:
            raise ValueError("lp_reg: eps_low / eps_high must be >= 0")


def proxy_logprobs(logits: torch.Tensor, targets: torch.Tensor, s: LpRegSettings) -> torch.Tensor:
    """log pi_proxy(y) [C] of the min-p filtered, renormalised distribution (logits [C, V])."""
    if s.rule == "minp":  # p_v >= kappa * p_max  <=>  z_v >= z_max + log kappa
        keep = logits >= logits.max(-1, keepdim=True).values + math.log(s.kappa)  # [C, V]
    else:  # p_v >= kappa
        keep = logits - torch.logsumexp(logits, -1, keepdim=True) >= math.log(s.kappa)  # [C, V]
    lse = torch.logsumexp(logits.masked_fill(~keep, float("-inf")), -1)  # [C] over the kept tokens
    z_y = logits.gather(-1, targets[:, None]).squeeze(-1)  # [C]
    kept_y = keep.gather(-1, targets[:, None]).squeeze(-1)  # [C]
    return torch.where(kept_y, z_y, torch.full_like(z_y, FILTERED)) - lse  # [C]


def _select(lp: torch.Tensor, cand: torch.Tensor, frac: float) -> torch.Tensor:
    """The k = max(1, int(|cand| frac)) lowest-lp candidates, only if k > 1 (the code's guard)."""
    sel = torch.zeros_like(cand)
    n = int(cand.sum())
    k = max(1, int(n * frac))
    if n > 0 and k > 1:
        idx = lp.masked_fill(~cand, float("inf")).flatten().topk(k, largest=False).indices
        sel.view(-1)[idx] = True
    return sel  # [B, T]


@register_loss("lp_reg", LpRegSettings, inputs=["old_proxy_logprobs"],
               stats=[LogitStat("proxy_logprobs", proxy_logprobs)],
               paper="Lp-Reg, Low-probability Tokens Sustain Exploration in RLVR, arXiv 2510.03222")
def lp_reg(inp: TokenInputs, s: LpRegSettings, keep: torch.Tensor) -> Surrogate:
    """PPO-clip; the selected rare tokens get -A rho + coef * k3(lp, lp_proxy) (module docstring)."""
    ratio = log_ratio(inp).exp()  # [B, T]
    a = inp.advantages
    sur = clipped(ratio, a, 1 - s.eps_low, 1 + s.eps_high, None)
    proxy = inp.need("old_proxy_logprobs", "loss lp_reg").to(ratio.dtype)  # [B, T]
    with torch.no_grad():
        lp = inp.logprobs.detach()  # [B, T]
        sel = _select(lp, keep & (a < 0), s.neg_frac) | _select(lp, keep & (a > 0), s.pos_frac)
        sel = sel & (lp < proxy)  # [B, T] only tokens the proxy finds likelier than the policy does
    pull = s.coef * k3(inp.logprobs, proxy)  # [B, T] gradient coef (1 - exp(d)): lp -> lp_proxy
    sur.loss = torch.where(sel, -a * ratio + pull, sur.loss)
    sur.metrics.update({"policy/lp_reg_frac": masked_mean(sel.float(), keep),
                        "policy/lp_reg_pull": masked_mean(pull.detach(), sel)})
    return sur
