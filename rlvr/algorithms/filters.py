"""Group filters: which sampled groups enter the batch (before advantages are computed), and the buffer that
resamples until the batch is full.

DAPO dynamic sampling (Yu et al. 2025, arXiv 2503.14476, Sec. 3.2 / Eq. 11): a group whose responses are all
correct or all wrong has zero advantage under a group baseline and so carries no policy gradient; drop it and
sample more prompts until the batch is full. The filter looks at correctness (`acc`), not at the shaped reward:
the overlong penalty would otherwise make an all-correct group look informative (algorithms.md §3, §9.4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from rlvr.algorithms.components import register_filter
from rlvr.metrics import Sum
from rlvr.types import Group


@dataclass
class DynamicSamplingSettings:
    metric: Literal["acc", "reward"] = "acc"  # what must vary within a group: correctness (DAPO) or shaped reward


@register_filter("dynamic_sampling", DynamicSamplingSettings, paper="DAPO dynamic sampling, arXiv 2503.14476 §3.2")
def dynamic_sampling(group: Group, s: DynamicSamplingSettings) -> bool:
    """Keep a group iff its `metric` varies (std > 0), or it holds a single sample (nothing to compare)."""
    values = group.acc if s.metric == "acc" else group.rewards
    return len(values) <= 1 or len(set(values)) > 1


@dataclass
class GroupBuffer:
    """Collects groups over generation batches until `target` of them pass `keep`."""

    target: int  # groups wanted on this rank
    keep: Callable[[Group], bool] = lambda g: True  # the active filters, composed (Algorithm.keep_group)
    kept: list[Group] = field(default_factory=list)
    dropped: list[Group] = field(default_factory=list)
    gen_batches: int = 0

    def add(self, groups: list[Group]) -> None:
        self.gen_batches += 1
        for g in groups:
            (self.kept if self.keep(g) else self.dropped).append(g)

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.target

    def take(self) -> list[Group]:
        """Exactly `target` groups: the first kept ones; if sampling gave up early, top up with dropped groups.

        Topping up (rather than training on a short batch) keeps every rank's batch the same size; a group a
        variance filter dropped has zero advantage under a group baseline, so it adds no policy gradient.
        """
        groups = self.kept[: self.target]
        return groups + self.dropped[: self.target - len(groups)]

    def metrics(self) -> dict[str, float]:
        return {
            "rollout/groups_kept": Sum(min(len(self.kept), self.target)),
            "rollout/groups_dropped": Sum(len(self.dropped)),
            "rollout/gen_batches": float(self.gen_batches),
            "rollout/groups_topped_up": Sum(max(0, self.target - len(self.kept))),
        }
