"""Group filters: which sampled groups enter the batch (before advantages are computed).

DAPO dynamic sampling (Yu et al. 2025, arXiv 2503.14476, Sec. 3.2 / Eq. 11): a group whose responses are all
correct or all wrong has zero advantage under a group baseline and so carries no policy gradient; drop it and
sample more prompts until the batch is full. The filter looks at correctness (`acc`), not at the shaped reward:
the overlong penalty would otherwise make an all-correct group look informative (algorithms.md §3, §9.4).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rlvr.types import Group


def informative(group: Group) -> bool:
    """True iff the group's correctness varies (std > 0), or it holds a single sample (nothing to compare)."""
    return len(group.acc) <= 1 or len(set(group.acc)) > 1


@dataclass
class GroupBuffer:
    """Collects groups over generation batches until `target` informative ones are kept (DAPO)."""

    target: int  # groups wanted on this rank
    kept: list[Group] = field(default_factory=list)
    dropped: list[Group] = field(default_factory=list)
    gen_batches: int = 0

    def add(self, groups: list[Group], dynamic_sampling: bool) -> None:
        self.gen_batches += 1
        for g in groups:
            (self.kept if not dynamic_sampling or informative(g) else self.dropped).append(g)

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.target

    def take(self) -> list[Group]:
        """Exactly `target` groups: the first kept ones; if sampling gave up early, top up with dropped groups.

        Topping up (rather than training on a short batch) keeps every rank's batch the same size; a dropped
        group has zero advantage under a group baseline, so it adds no policy gradient.
        """
        groups = self.kept[: self.target]
        return groups + self.dropped[: self.target - len(groups)]

    def metrics(self) -> dict[str, float]:
        return {
            "rollout/groups_kept": float(min(len(self.kept), self.target)),
            "rollout/groups_dropped": float(len(self.dropped)),
            "rollout/gen_batches": float(self.gen_batches),
            "rollout/groups_topped_up": float(max(0, self.target - len(self.kept))),
        }
