"""`token_loss` and `step_normalizers` as plain functions over a recipe's `algorithm:` mapping (the learner uses
the same `Algorithm` object, built once from the config).

    loss, metrics = token_loss(logprobs, old_logprobs, advantages, loss_mask,
                               loss="ppo_clip", ppo_clip={"eps_high": 0.28}, masks=["truncated"], truncated=trunc)

Composition (design.md §4, pipeline.py): masks -> weights -> policy loss -> regularizers -> aggregation ->
metrics. Each stage is a registry lookup; adding a variant never edits this file.
"""
from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Union

import torch

from rlvr.algorithms.pipeline import Algorithm

INPUT_NAMES = ("entropy", "old_entropy", "ref_logprobs", "sampler_logprobs", "truncated", "generator",
               "num_tokens", "num_seqs", "num_reg_tokens")


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return ("__list__",) + tuple(_freeze(x) for x in v)
    return v


def _thaw(v: Any) -> Any:
    if isinstance(v, tuple) and v[:1] == ("__list__",):
        return [_thaw(x) for x in v[1:]]
    if isinstance(v, tuple) and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {k: _thaw(x) for k, x in v}
    return v


@functools.lru_cache(maxsize=64)
def _cached(frozen: tuple) -> Algorithm:  # validation is per recipe, not per micro-batch
    return Algorithm(_thaw(frozen) if frozen else {})


def algorithm(spec: Union[dict, Any, None] = None, **keys) -> Algorithm:
    """An `Algorithm` from a recipe's `algorithm:` mapping (unknown keys -> ConfigError naming the closest)."""
    if spec is not None and not isinstance(spec, dict):
        return Algorithm(spec)
    return _cached(_freeze({**(spec or {}), **keys}))


def token_loss(logprobs: torch.Tensor, old_logprobs: Optional[torch.Tensor], advantages: torch.Tensor,
               loss_mask: torch.Tensor, *, inputs: Optional[dict] = None, **kwargs) -> tuple[torch.Tensor, dict]:
    """Policy loss of one micro-batch -> (0-dim loss with grad, metrics).

    logprobs [B, T] (grad), old_logprobs [B, T] (None = on-policy: the detached logprobs), advantages [B] or
    [B, T], loss_mask [B, T]. Keyword inputs: entropy, old_entropy, ref_logprobs, sampler_logprobs [B, T],
    truncated [B], generator, and `inputs=` for statistics components provide; num_tokens / num_seqs /
    num_reg_tokens (the optimizer step's totals from `step_normalizers`) make the loss this micro-batch's
    additive share of the step loss (None = this micro-batch is the whole step). Every other keyword is a key
    of the recipe's `algorithm:` section (`loss="cispo", cispo={"eps_high": 5.0}`).
    """
    given = {k: kwargs.pop(k) for k in INPUT_NAMES if k in kwargs}
    algo = algorithm(kwargs)
    return algo.token_loss(logprobs, old_logprobs, advantages, loss_mask, **given, **(inputs or {}))


def step_normalizers(loss_mask: Union[torch.Tensor, Sequence[torch.Tensor]], *, inputs: Optional[dict] = None,
                     **kwargs) -> dict[str, float]:
    """The optimizer step's denominators for `token_loss` (see `Algorithm.step_normalizers`)."""
    names = INPUT_NAMES + ("old_logprobs", "advantages")
    given = {k: kwargs.pop(k) for k in names if k in kwargs}
    return algorithm(kwargs).step_normalizers(loss_mask, **given, **(inputs or {}))
