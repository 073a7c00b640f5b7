"""`token_loss`: the one entry the learner calls per micro-batch, and `step_normalizers` for its denominators.

Composition (design.md §4): masks -> TIS weights -> surrogate by loss name -> regularizers -> aggregation ->
metrics. Each stage is a registry lookup; adding a variant never edits this file.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence, Union

import torch

from rlvr.algorithms.aggregation import AGGREGATIONS
from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.algorithms.kl import KL_ESTIMATORS
from rlvr.algorithms.losses import LOSSES
from rlvr.algorithms.masks import MASKS, active_masks, apply_masks, tis_token_weights
from rlvr.config import AlgorithmConfig, from_dict


def algorithm_config(algorithm: Union[dict, AlgorithmConfig]) -> AlgorithmConfig:
    """Validate a recipe's `algorithm:` mapping (every AlgorithmConfig key allowed; unknown key -> ConfigError
    naming it and the closest valid key; wrong type -> ConfigError)."""
    if isinstance(algorithm, AlgorithmConfig):
        return algorithm
    return _cached_config(tuple(sorted((k, _freeze(v)) for k, v in algorithm.items())))


def _freeze(v):
    return tuple(v) if isinstance(v, list) else tuple(sorted(v.items())) if isinstance(v, dict) else v


@functools.lru_cache(maxsize=64)
def _cached_config(items: tuple) -> AlgorithmConfig:  # validation is per recipe, not per micro-batch
    return from_dict(AlgorithmConfig, {k: list(v) if isinstance(v, tuple) else v for k, v in items}, "algorithm.")


def _as_inputs(logprobs, old_logprobs, advantages, loss_mask, **extra) -> TokenInputs:
    mask = loss_mask.to(torch.bool)  # [B, T]
    if advantages.dim() == 1:
        advantages = advantages[:, None].expand(mask.shape)  # [B] -> [B, T]
    if advantages.shape != mask.shape or (logprobs is not None and logprobs.shape != mask.shape):
        raise ValueError(f"token_loss: logprobs {tuple(logprobs.shape)}, advantages {tuple(advantages.shape)} and "
                         f"loss_mask {tuple(mask.shape)} must all be [B, T] (advantages may be [B])")
    adv = advantages.detach().to(logprobs.dtype if logprobs is not None else torch.float32)  # [B, T]
    return TokenInputs(logprobs, old_logprobs, adv * mask, mask, **extra)


def token_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
               loss_mask: torch.Tensor, *, entropy: Optional[torch.Tensor] = None,
               ref_logprobs: Optional[torch.Tensor] = None, sampler_logprobs: Optional[torch.Tensor] = None,
               truncated: Optional[torch.Tensor] = None, num_tokens: Optional[float] = None,
               num_seqs: Optional[float] = None, generator: Optional[torch.Generator] = None,
               **algorithm) -> tuple[torch.Tensor, dict]:
    """Policy loss of one micro-batch -> (0-dim loss with grad, metrics).

    logprobs [B, T] (grad), old/ref/sampler_logprobs [B, T], advantages [B] or [B, T], loss_mask [B, T],
    entropy [B, T] (grad only for the entropy bonus), truncated [B] bool. `algorithm` = any AlgorithmConfig
    keys. With num_tokens / num_seqs (the optimizer step's totals from `step_normalizers`) the loss is this
    micro-batch's additive share of the step loss; None = this micro-batch is the whole step.
    """
    cfg = algorithm_config(algorithm)
    old = old_logprobs.detach() if old_logprobs is not None else logprobs.detach()  # on-policy: ratio 1
    inp = _as_inputs(logprobs, old, advantages, loss_mask, entropy=entropy, ref_logprobs=ref_logprobs,
                     sampler_logprobs=sampler_logprobs, truncated=truncated, generator=generator)
    valid, keep, metrics = apply_masks(inp, cfg)  # [B, T] denominator tokens, [B, T] loss tokens
    den = keep if (cfg.token_mask and cfg.forking_renorm) else valid  # [B, T]
    agg = functools.partial(AGGREGATIONS.get(cfg.aggregation), den_mask=den, rows=valid.any(-1),
                            num_tokens=num_tokens, num_seqs=num_seqs, max_response_len=cfg.max_response_len)
    w = keep.to(logprobs.dtype)  # [B, T]
    if cfg.tis == "token":
        w = w * tis_token_weights(inp, cfg)  # [B, T]
    surr = LOSSES.get(cfg.loss)(inp, cfg, keep)
    pg = agg(surr.loss * w)
    kl = agg(KL_ESTIMATORS.get(cfg.kl_estimator)(logprobs, inp.need("ref_logprobs", "kl_coef > 0")) * keep) \
        if cfg.kl_coef else pg.new_zeros(())
    ent = agg(inp.need("entropy", "entropy_coef > 0") * keep) if cfg.entropy_coef else pg.new_zeros(())
    total = pg + cfg.kl_coef * kl - cfg.entropy_coef * ent
    metrics.update(_metrics(inp, keep, surr, pg, cfg.kl_coef * kl, -cfg.entropy_coef * ent, total))
    return total, metrics


def _metrics(inp: TokenInputs, keep, surr, pg, kl, ent, total) -> dict:
    """loss/* are this micro-batch's shares (sum them over micro-batches); policy/* are local means."""
    with torch.no_grad():
        lr = (inp.logprobs - inp.old_logprobs).clamp(-20.0, 20.0)  # [B, T]
        m = {"loss/pg": pg.detach(), "loss/kl": kl.detach(), "loss/entropy": ent.detach(),
             "loss/total": total.detach(),
             "policy/clipfrac_low": masked_mean(surr.clip_low.float(), keep),
             "policy/clipfrac_high": masked_mean(surr.clip_high.float(), keep),
             "policy/approx_kl": masked_mean(lr.exp() - 1 - lr, keep)}  # k3 estimate of KL(old || new)
        if inp.entropy is not None:
            m["policy/entropy"] = masked_mean(inp.entropy.detach(), inp.loss_mask)
        if inp.sampler_logprobs is not None:
            gap = (inp.sampler_logprobs - inp.old_logprobs).abs()  # [B, T]
            m["policy/sampler_logprob_gap"] = masked_mean(gap, inp.loss_mask)
        m.update({k: (v.detach() if torch.is_tensor(v) else v) for k, v in surr.metrics.items()})
    return m


def step_normalizers(loss_mask: Union[torch.Tensor, Sequence[torch.Tensor]], *,
                     truncated=None, old_logprobs=None, sampler_logprobs=None,
                     **algorithm) -> dict[str, float]:
    """The optimizer step's denominators: dict(num_tokens=..., num_seqs=...) to pass to every token_loss call.

    `loss_mask` is the step's [B, T] mask or the list of micro-batch masks exactly as they will be passed to
    token_loss (on one rank; all-reduce-sum the two numbers across data-parallel ranks). The same removing
    masks are applied (mask_truncated needs `truncated`, tis=seq_mask needs old/sampler logprobs, as lists
    parallel to loss_mask), and with token_mask + forking_renorm the per-micro-batch kept-token counts are used.
    """
    cfg = algorithm_config(algorithm)
    masks = [loss_mask] if torch.is_tensor(loss_mask) else list(loss_mask)

    def part(x, i):
        return None if x is None else (x if torch.is_tensor(x) and len(masks) == 1 else x[i])

    tokens, seqs = 0, 0
    for i, m in enumerate(masks):
        inp = TokenInputs(None, part(old_logprobs, i), None, m.to(torch.bool), truncated=part(truncated, i),
                          sampler_logprobs=part(sampler_logprobs, i))
        valid = inp.loss_mask
        for name, removes in active_masks(cfg):
            if removes:
                valid = MASKS.get(name)(valid, inp, cfg)
        n = int(valid.sum())
        if cfg.token_mask and cfg.forking_renorm:
            n = MASKS.get(cfg.token_mask).keep_count(n, cfg.forking_top_frac)
        tokens += n
        seqs += int(valid.any(-1).sum())
    return {"num_tokens": float(tokens), "num_seqs": float(seqs)}
