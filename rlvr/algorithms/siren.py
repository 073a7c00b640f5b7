"""SIREN — SelectIve entRopy rEgularizatioN ("Rethinking Entropy Regularization in Large Reasoning
Models", Jiang et al., arXiv 2509.25133).

A plain entropy bonus over a 150k vocabulary and thousands of positions explodes the entropy. SIREN
regularises only a meaningful subset, towards a fixed anchor instead of upwards:

    top-p mask     H_p[t] = entropy of the policy renormalised on the nucleus N_t (the top-p tokens)
    peak mask      peak[i, t] = H_p[i, t] > quantile_q(H_p[i, valid])       (per sequence, q = 0.8)
    estimate       H_hat = (1 / B) sum_i mean_{t in peak_i} H_p[i, t]    (no peak: the row counts 0)
    regulariser    coef * (H_hat - anchor)^2, anchor = H_hat of the initial policy (first update)

The gradient reaches only the nucleus logits of the peak positions (q is a softmax over N_t: the
full-vocabulary normaliser cancels). `topp_entropy` is a LogitStat computed from the top_k logits of
each chunk (memory O(chunk
* top_k) for the graph) and backpropagated through the learner's chunked head (`topp_entropy:grad`).

Code vs paper (`Linn3a/siren` fa59a8d: `dp_actor.efficient_top_p_sampling`, `mask_by_quantile`,
`ray_trainer`):
* Nucleus. The paper's top-p mask is the usual nucleus (the smallest prefix reaching p: `inclusive`,
  default); the code keeps the prefix strictly *before* the token whose cumulative probability
  reaches p (`strict`), so a top-1 token with p_1 >= 0.8 gives an empty set and H_p = 0.
* Scope. The code takes H_hat per micro-batch (dynamic batching, 4096 tokens: 1-3 sequences) and
  weights each micro-batch's (H_hat_mb - anchor)^2 by its sequence count / mini-batch size. `scope:
  micro_batch` does exactly that with this learner's micro-batches (the term is the micro-batch's
  share n_mb / num_seqs of the step); `scope: sequence` squares per sequence (coef/N sum_i (H_i -
  anchor)^2), which no micro-batching changes.
* Anchor. The code measures it once, at step 1, over the whole batch from the old pass (initial
  policy). Here it is measured at the first update (the first micro-batch of every rank, before any
  optimizer step, i.e. at the initial policy): the mean over those rows of their peak means, summed
  over ranks, then kept in the component state (checkpointed). `anchor: <value>` fixes it instead.
  The code falls back to anchor 0 if the metric is missing; we never do.
* The policy loss is plain PPO-clip 0.28 with dual clip 3 on every token, seq-mean-token-sum-norm
  (Dr. GRPO's constant normaliser, T = max response length), GRPO advantages without std: the
  `siren` preset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch

from rlvr.algorithms.components import LogitStat, register_regularizer
from rlvr.algorithms.dist import all_reduce_sum
from rlvr.algorithms.inputs import TokenInputs


@dataclass
class SirenSettings:
    coef: float = 0.005  # lambda: weight of (H_hat - anchor)^2 (authors' script entropy_coeff)
    top_p: float = 0.8  # nucleus mass of the top-p mask (entropy_topp)
    top_k: int = 10000  # the nucleus is searched in the top_k logits (entropy_topk; bounds memory)
    # the smallest prefix reaching top_p (paper) | the prefix before the token reaching it (code)
    nucleus: Literal["inclusive", "strict"] = "inclusive"
    quantile: float = 0.8  # peak mask: H_p above this per-sequence quantile (mask_ratio)
    anchor: Optional[float] = None  # fixed anchor; None = measured at the first update
    scope: Literal["micro_batch", "sequence"] = "micro_batch"  # where (H_hat - anchor)^2 is taken

    def __post_init__(self):
        if not 0 < self.top_p <= 1 or self.top_k < 1 or not 0 <= self.quantile <= 1:
            raise ValueError("siren: top_p must be in (0, 1], top_k >= 1, quantile in [0, 1]")


def topp_entropy(logits: torch.Tensor, targets: torch.Tensor, s: SirenSettings) -> torch.Tensor:
    """H_p [C]: entropy of softmax(logits [C, V]) renormalised on the top-p nucleus of the top_k
    logits. Differentiable in the logits (only the nucleus gets a gradient); the nucleus choice is not."""
    vals = logits.topk(min(s.top_k, logits.shape[-1]), dim=-1).values  # [C, k] descending
    with torch.no_grad():
        p = (vals - torch.logsumexp(logits, -1, keepdim=True)).exp()  # [C, k] full-vocabulary probs
        cum = p.cumsum(-1)  # [C, k]
        inset = (cum - p < s.top_p) if s.nucleus == "inclusive" else (cum < s.top_p)  # [C, k]
        inset[:, 0] |= ~inset.any(-1)  # an empty strict nucleus: a singleton (entropy 0, no gradient)
    lse = torch.logsumexp(vals.masked_fill(~inset, float("-inf")), -1, keepdim=True)  # [C, 1] on N_t
    logq = torch.where(inset, vals - lse, torch.zeros_like(vals))  # [C, k]
    return -(logq.exp() * inset * logq).sum(-1)  # [C]


def _anchor(inp: TokenInputs, s: SirenSettings, per_row: torch.Tensor,
            rows: torch.Tensor) -> Optional[float]:
    """The fixed setting, else the stored value, else measure it now (every rank reaches this call at
    its first micro-batch, dummies included, so the all-reduce pairs up)."""
    if s.anchor is not None:
        return s.anchor
    if "anchor" not in inp.state:
        tot = all_reduce_sum(torch.stack([(per_row.detach() * rows).sum(), rows.sum()]).double())
        if float(tot[1]) == 0:
            return None
        inp.state["anchor"] = float(tot[0] / tot[1])
    return inp.state["anchor"]


@register_regularizer("siren", SirenSettings, inputs=["topp_entropy:grad"],
                      stats=[LogitStat("topp_entropy", topp_entropy)],
                      paper="SIREN, Rethinking Entropy Regularization in Large Reasoning Models, "
                            "arXiv 2509.25133")
def siren(inp: TokenInputs, s: SirenSettings, keep: torch.Tensor):
    """coef * (H_hat - anchor)^2 over the peak positions, as this micro-batch's share (module doc)."""
    h = inp.need("topp_entropy", "regularizer siren")  # [B, T] with gradient
    with torch.no_grad():
        x = h.detach().float().masked_fill(~keep, float("nan"))  # [B, T]
        q = torch.nanquantile(x, s.quantile, dim=-1, keepdim=True)  # [B, 1] linear, as the code
        peak = keep & (h.detach() > q)  # [B, T] strict, as the code; an empty row has none
    rows = keep.any(-1)  # [B] sequences in this micro-batch
    per_row = (h * peak).sum(-1) / peak.sum(-1).clamp(min=1)  # [B] mean H_p on the peaks (0: none)
    n = rows.sum()
    total = max(float(inp.num_seqs if inp.num_seqs is not None else n), 1.0)
    anchor = _anchor(inp, s, per_row, rows)
    h_hat = (per_row * rows).sum() / n.clamp(min=1)
    if anchor is None or int(n) == 0:
        term = h.sum() * 0.0  # nothing to regularise here (keeps the graph connected)
    elif s.scope == "micro_batch":
        term = s.coef * (h_hat - anchor) ** 2 * (n / total)
    else:
        term = s.coef * (((per_row - anchor) ** 2) * rows).sum() / total
    metrics = {"policy/siren_entropy": h_hat.detach(),
               "policy/siren_peak_frac": peak.sum() / keep.sum().clamp(min=1)}
    if anchor is not None:
        metrics["policy/siren_anchor"] = anchor
    return term, metrics
