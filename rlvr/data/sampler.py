"""Resumable prompt sampler: each rank owns a disjoint shard and walks it epoch by epoch."""
from __future__ import annotations

import random
from dataclasses import dataclass

from rlvr.types import Prompt


@dataclass
class PromptSampler:
    """Yields prompts from this rank's shard (`prompts[rank::world]`), reshuffled each epoch with the seed.

    The whole position is (epoch, index), so a checkpoint stores two integers and a resumed run draws exactly
    the prompts the uninterrupted run would have drawn. Ranks own disjoint shards so DAPO dynamic sampling,
    which may draw a different number of batches per rank, never makes two ranks train on the same prompt.
    """

    prompts: list[Prompt]
    seed: int = 0
    shuffle: bool = True
    rank: int = 0
    world_size: int = 1
    epoch: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        self.shard = self.prompts[self.rank :: self.world_size]
        if not self.shard:
            raise ValueError(f"rank {self.rank} got no prompts: {len(self.prompts)} prompts for {self.world_size} ranks")
        self._order = self._epoch_order()

    def _epoch_order(self) -> list[int]:
        order = list(range(len(self.shard)))
        if self.shuffle:
            random.Random(f"{self.seed}-{self.rank}-{self.epoch}").shuffle(order)
        return order

    def next(self, n: int) -> list[Prompt]:
        out = []
        while len(out) < n:
            if self.index >= len(self._order):
                self.epoch, self.index = self.epoch + 1, 0
                self._order = self._epoch_order()
            out.append(self.shard[self._order[self.index]])
            self.index += 1
        return out

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = state["epoch"], state["index"]
        self._order = self._epoch_order()
