"""Entropy-shaped advantages ("Reasoning with Exploration: An Entropy Perspective", Cheng et al., arXiv
2506.14758, Eq. 5-6; AAAI 2026).

High-entropy positions are where pivotal, reflective and rare reasoning actions occur. The advantage
of every token gets a bounded entropy bonus, computed after the base estimator and used as a value
(no gradient):

    psi[i, t] = min(alpha * H[i, t], |A[i, t]| / kappa)          A'[i, t] = A[i, t] + psi[i, t]

kappa > 1 keeps the sign of A (psi < |A|); kappa = 1 lets a negative token reach 0. A = 0 tokens are
unchanged. `base` is any registered sequence- or token-level estimator, looked up and called with
its own settings, so the shaping composes (grpo, dr_grpo, rloo, lite_ppo, hapo_tlga, ...).

Code vs paper: there is no official code. The paper writes H as the policy's entropy at the update;
the reproductions we read (SIREN's `baseline_entropy_adv` branch in `Linn3a/siren`, lucidrains' PPO
ports) compute it in the training forward. As an advantage estimator this component reads the old
pass's entropy (`old_entropy`): the same values when each rollout batch gets one optimizer step
(learner.mini_batches = epochs = 1), the behaviour policy's for the later steps otherwise. Defaults
alpha 0.4 (GRPO; 0.1 for PPO) and kappa 2 are the paper's (and lucidrains'); SIREN's reproduction
hard-codes kappa = 1, a third-party verl port alpha 0.1, kappa 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from rlvr.algorithms.advantages import ADVANTAGES, register_advantage

PASSED = ("lengths", "loss_mask", "old_entropy")  # inputs this estimator can hand on to its base


@dataclass
class EntropyAdvSettings:
    alpha: float = 0.4  # entropy scale (paper: 0.4 for GRPO, 0.1 for PPO)
    kappa: float = 2.0  # the bonus is at most |A| / kappa (paper: 2; kappa >= 1 never flips a sign)
    base: str = "grpo"  # the estimator whose advantages are shaped (any registered one)
    base_settings: dict[str, Any] = field(default_factory=dict)  # that estimator's settings

    def __post_init__(self):
        if self.alpha < 0 or self.kappa < 1:
            raise ValueError("entropy_adv: alpha must be >= 0 and kappa >= 1 (< 1 could flip signs)")
        if self.base == "entropy_adv":
            raise ValueError("entropy_adv: base must be another estimator")
        try:
            comp = ADVANTAGES.get(self.base)
        except KeyError as e:  # names the closest registered estimator
            raise ValueError(f"entropy_adv.base: {e.args[0]}") from None
        extra = [i for i in comp.inputs if i.split(":")[0] not in PASSED]
        if extra:
            raise ValueError(f"entropy_adv: base {self.base!r} needs {', '.join(extra)}, which "
                             f"entropy_adv cannot pass on (it passes {', '.join(PASSED)})")
        self.base_settings_obj()  # unknown keys fail when the config loads

    def base_settings_obj(self) -> Any:
        comp = ADVANTAGES.get(self.base)
        if comp.settings is None:
            if self.base_settings:
                raise ValueError(f"entropy_adv: base {self.base!r} takes no settings, "
                                 f"got {self.base_settings}")
            return None
        return comp.settings(**self.base_settings)


@register_advantage("entropy_adv", EntropyAdvSettings, inputs=["old_entropy", "loss_mask", "lengths"],
                    paper="entropy-based advantage, Reasoning with Exploration: An Entropy "
                          "Perspective, arXiv 2506.14758")
def entropy_adv(rewards: torch.Tensor, s: EntropyAdvSettings, old_entropy: torch.Tensor,
                loss_mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """rewards [N, G] -> per-token A + min(alpha H_old, |A| / kappa) [N, G, T], 0 off the mask."""
    comp = ADVANTAGES.get(s.base)
    given = {"lengths": lengths, "loss_mask": loss_mask, "old_entropy": old_entropy}
    names = [i.split(":")[0] for i in comp.inputs]
    adv = comp(rewards, s.base_settings_obj(), **{n: given[n] for n in names})
    mask = loss_mask.to(adv.dtype)  # [N, G, T]
    if adv.dim() == 2:
        adv = adv[..., None].expand(mask.shape)  # [N, G] -> [N, G, T]
    ent = old_entropy.detach().to(adv.dtype)  # [N, G, T]
    bonus = torch.minimum(s.alpha * ent, adv.abs() / s.kappa)  # [N, G, T]
    return (adv + bonus) * mask
