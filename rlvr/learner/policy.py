"""`PolicyModel`: an HF causal LM whose forward returns per-token log-probs and entropy, never full logits.

The chunked head runs *inside* the LM head module's forward (its bound `forward` is swapped for one that also
accepts targets), so engines that hook modules — DeepSpeed ZeRO-3 gathers a module's parameters in its
pre-forward hook and again before its backward — see an ordinary call of that module. The original forward is
kept for calls without targets, so `hf_model(...)` still returns logits.
"""
from __future__ import annotations

import types

import torch
from torch import nn

from rlvr.learner.batching import ModelInputs, model_inputs, unpack
from rlvr.learner.logprobs import chunked_logprobs, shared_prefix_logprobs, token_logprobs


def _install_chunked_head(head: nn.Module) -> None:
    if getattr(head, "_rlvr_chunked", False):
        return
    original = head.forward

    def forward(self, hidden, targets=None, **kwargs):  # kwargs: temperature, chunk, with_entropy, stats
        if targets is None:
            return original(hidden)
        if getattr(self, "bias", None) is not None:
            raise NotImplementedError("chunked log-probs: LM heads with a bias are not supported")
        return chunked_logprobs(hidden, self.weight, targets, **kwargs)

    head.forward = types.MethodType(forward, head)
    head._rlvr_chunked = True


class PolicyModel(nn.Module):
    """Wraps `hf` (a *ForCausalLM); state-dict keys are `hf.<HF name>`."""

    def __init__(self, hf: nn.Module):
        super().__init__()
        self.hf = hf
        _install_chunked_head(hf.get_output_embeddings())

    def forward(self, input_ids, attention_mask, loss_mask, *, packed: bool, temperature: float = 1.0,
                chunk: int = 1024, with_entropy: bool = True, stats: tuple = (),
                group_ids: torch.Tensor | None = None, kv_cache: bool = True) -> tuple:
        """Padded rows [b, T] -> (logprobs [b, T], entropy [b, T] or None, stats: tuple of [b, T]) fp32, non-zero
        only where loss_mask is set. `stats`: component statistics (fn, settings, needs_grad) of the logits.
        `group_ids` [b] (rows of a group consecutive, not packed): each group's shared prompt runs once
        (kv_cache: its KV-cache layout is allowed, see shared_prefix_logprobs)."""
        decoder = getattr(self.hf, self.hf.base_model_prefix)
        if group_ids is not None and not packed:
            out = shared_prefix_logprobs(decoder, self.hf.get_output_embeddings(), input_ids, attention_mask,
                                         loss_mask, group_ids, kv_cache=kv_cache, temperature=temperature,
                                         chunk=chunk, with_entropy=with_entropy, stats=stats)
            if out is not None:
                return out
        inp: ModelInputs = model_inputs(input_ids, attention_mask, loss_mask, packed)
        hidden = decoder(input_ids=inp.input_ids, attention_mask=inp.attention_mask, position_ids=inp.position_ids,
                         use_cache=False).last_hidden_state  # [R, S, H] after the final norm
        lp, ent, values = token_logprobs(hidden, self.hf.get_output_embeddings(), inp.input_ids, inp.loss_mask,
                                         temperature=temperature, chunk=chunk, with_entropy=with_entropy,
                                         stats=stats)  # [R, S]
        shape = input_ids.shape
        back = lambda x: unpack(x, inp, shape)  # noqa: E731  [R, S] -> [b, T]
        return back(lp), (back(ent) if ent is not None else None), tuple(back(v) for v in values)
