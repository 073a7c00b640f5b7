"""Regularizers: extra loss terms added to the policy gradient, each carrying its own coefficient (a setting).

`fn(inp, s, keep [B, T]) -> [B, T]` per-token term, aggregated like the loss over the tokens that masks
gating every term leave (`keep`), or a 0-dim term taken as is: this micro-batch's share of the step's term
(`inp.num_seqs` is the step's sequence count; siren.py), its statistics' scope said where it applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from rlvr.algorithms.components import REGISTRIES, register_regularizer
from rlvr.algorithms.inputs import TokenInputs
from rlvr.algorithms.kl import KL_ESTIMATORS

REGULARIZERS = REGISTRIES["regularizer"]


@dataclass
class KLSettings:
    coef: float = 0.04  # beta: weight of KL(pi || ref) in the loss (DeepSeekMath GRPO: 0.04)
    estimator: Literal["k1", "k2", "k3"] = "k3"  # Schulman's estimators (k3 clamped as verl's low_var_kl)


@register_regularizer("kl", KLSettings, inputs=["ref_logprobs"],
                      paper="KL to the reference as a loss term, GRPO (DeepSeekMath arXiv 2402.03300 Eq. 4)")
def kl(inp: TokenInputs, s: KLSettings, keep: torch.Tensor) -> torch.Tensor:
    """beta * KL_est(pi || ref) at the sampled token, gradient through logprobs."""
    ref = inp.need("ref_logprobs", "regularizer kl")
    return s.coef * KL_ESTIMATORS.get(s.estimator)(inp.logprobs, ref)  # [B, T]


@dataclass
class EntropyBonusSettings:
    coef: float = 0.001  # weight of the entropy bonus (the loss subtracts coef * H)


@register_regularizer("entropy_bonus", EntropyBonusSettings, inputs=["entropy:grad"],
                      paper="entropy bonus (Williams & Peng 1991; PPO, Schulman et al. 2017)")
def entropy_bonus(inp: TokenInputs, s: EntropyBonusSettings, keep: torch.Tensor) -> torch.Tensor:
    """-coef * H per token: rewards keeping the full-vocabulary entropy up."""
    return -s.coef * inp.need("entropy", "regularizer entropy_bonus")  # [B, T]
