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
from rlvr.learner.logprobs import chunked_logprobs, select_positions


def _install_chunked_head(head: nn.Module) -> None:
    if getattr(head, "_rlvr_chunked", False):
        return
    original = head.forward

    def forward(self, hidden, targets=None, temperature: float = 1.0, chunk: int = 1024):
        if targets is None:
            return original(hidden)
        if getattr(self, "bias", None) is not None:
            raise NotImplementedError("chunked log-probs: LM heads with a bias are not supported")
        return chunked_logprobs(hidden, self.weight, targets, temperature=temperature, chunk=chunk)

    head.forward = types.MethodType(forward, head)
    head._rlvr_chunked = True


class PolicyModel(nn.Module):
    """Wraps `hf` (a *ForCausalLM); state-dict keys are `hf.<HF name>`."""

    def __init__(self, hf: nn.Module):
        super().__init__()
        self.hf = hf
        _install_chunked_head(hf.get_output_embeddings())

    def forward(self, input_ids, attention_mask, loss_mask, *, packed: bool, temperature: float = 1.0,
                chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded rows [b, T] -> (logprobs [b, T], entropy [b, T]) fp32, non-zero only where loss_mask is set."""
        inp: ModelInputs = model_inputs(input_ids, attention_mask, loss_mask, packed)
        decoder = getattr(self.hf, self.hf.base_model_prefix)
        hidden = decoder(input_ids=inp.input_ids, attention_mask=inp.attention_mask, position_ids=inp.position_ids,
                         use_cache=False).last_hidden_state  # [R, S, H] after the final norm
        idx = select_positions(inp.loss_mask)  # [K] flat positions in the model layout
        flat = hidden.reshape(-1, hidden.shape[-1])  # [R*S, H]
        lp, ent = self.hf.get_output_embeddings()(flat[idx - 1], inp.input_ids.reshape(-1)[idx],
                                                 temperature=temperature, chunk=chunk)  # [K], [K]
        shape = inp.loss_mask.shape
        lp = lp.new_zeros(shape.numel()).index_put((idx,), lp).view(shape)  # [R, S]
        ent = ent.new_zeros(shape.numel()).index_put((idx,), ent).view(shape)  # [R, S]
        return unpack(lp, inp, input_ids.shape), unpack(ent, inp, input_ids.shape)  # [b, T]
