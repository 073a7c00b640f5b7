"""Stage-boundary types: what one stage hands the next.

Alignment rule for every per-token tensor in `Batch`: index t describes the token at `input_ids[:, t]`
(so `logprobs[:, t] = log p(input_ids[:, t] | input_ids[:, :t])`; column 0 is never a loss token).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch


@dataclass
class Prompt:
    id: str  # stable id from the data file (or "file:line")
    text: str  # the rendered prompt text fed to the engine (template applied)
    answer: str  # ground truth handed to verifiers
    prompt_ids: list[int] = field(default_factory=list)  # token ids of `text` (filled by the data loader)
    task: str = "math"  # which verifier set scores it
    meta: dict[str, Any] = field(default_factory=dict)  # raw problem, source, level, ...


@dataclass
class Rollout:
    response_ids: list[int]  # [L] sampled token ids (no prompt, no padding)
    response_text: str  # detokenized response
    sampler_logprobs: list[float]  # [L] log-prob of each sampled token under the *sampler* (engine) distribution
    finish_reason: str  # "stop" (EOS / stop string) or "length" (hit max_tokens)
    versions: list[int] = field(default_factory=list)  # [L] policy version that sampled each token (split mode)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Group:
    """One prompt and its G rollouts; rewards are filled in by the reward stage."""

    prompt: Prompt
    rollouts: list[Rollout]  # [G]
    rewards: list[float] = field(default_factory=list)  # [G] shaped scalar reward (what advantages use)
    acc: list[float] = field(default_factory=list)  # [G] correctness in {0, 1} (what dynamic sampling filters on)
    reward_parts: dict[str, list[float]] = field(default_factory=dict)  # name -> [G] unweighted part scores
    extracted: list[Optional[str]] = field(default_factory=list)  # [G] answer the verifier read (for logs/eval)

    @property
    def version(self) -> Optional[int]:
        """The oldest policy version any of its tokens was sampled with (None: not recorded, colocated)."""
        vs = [v for r in self.rollouts for v in r.versions]
        return min(vs) if vs else None


@dataclass(frozen=True)
class Batch:
    """Learner input, rows group-major (B = N * G). Built by `rlvr.learner.batching.make_batch`; the old pass
    fills old/ref log-probs and statistics, the advantage stage fills `advantages`."""

    input_ids: torch.Tensor  # [B, T] prompt + response, right-padded
    attention_mask: torch.Tensor  # [B, T] 1 for real tokens
    loss_mask: torch.Tensor  # [B, T] 1 for response tokens that enter the loss
    sampler_logprobs: torch.Tensor  # [B, T] engine log-probs on response tokens, 0 elsewhere
    rewards: torch.Tensor  # [B] shaped scalar reward (what advantages use)
    acc: torch.Tensor  # [B] correctness in {0, 1}
    truncated: torch.Tensor  # [B] bool, response hit max_tokens
    group_ids: torch.Tensor  # [B] index of the prompt (group) each row belongs to
    group_size: int = 1  # G (rows per group)
    advantages: Optional[torch.Tensor] = None  # [B] or [B, T]
    old_logprobs: Optional[torch.Tensor] = None  # [B, T] behaviour policy (learner, before the update)
    ref_logprobs: Optional[torch.Tensor] = None  # [B, T] frozen reference (when a component declares it)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)  # [B, T] old-pass statistics (old_entropy, ...)

    @property
    def lengths(self) -> torch.Tensor:  # [B] response lengths in tokens
        return self.loss_mask.sum(-1)

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """[B, ...] -> [N, G, ...] (rows are group-major)."""
        return x.view(-1, self.group_size, *x.shape[1:])
