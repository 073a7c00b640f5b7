"""Chunked log-probs and entropy straight from the final hidden states and the LM head.

A policy-gradient step needs, per response token, `log p(y_t | y_<t)` and (for masks, metrics and entropy
bonuses) the full-vocabulary entropy `H = -sum_v p_v log p_v` with `p = softmax(z / temperature)`
(algorithms.md §0, §9.3). Materialising the logits costs `T * V * 4` bytes in fp32 — 16k tokens x 150k vocab is
~10 GB, plus as much again for the softmax and the backward. `ChunkedLogprobs` processes `chunk` tokens at a time
and recomputes each chunk's logits in the backward, so peak extra memory is O(chunk * V) whatever T is.

Gradients (s = z / temperature, log p = s - lse(s)):
    d logp_y / d s_j = 1[j = y] - p_j
    d H / d s_j      = -p_j (log p_j + H)
    d / d z          = (d / d s) / temperature;  dL/dh = g_z @ W,  dL/dW = g_z^T @ h
"""
from __future__ import annotations

import torch


class ChunkedLogprobs(torch.autograd.Function):
    """(hidden [N, H], weight [V, H], targets [N]) -> (logprobs [N], entropy [N] or empty, *stats [N]), fp32,
    chunked fwd and bwd. `stats` are component statistics `(fn, settings, needs_grad)` of each chunk's logits
    (rlvr.algorithms.LogitStat); one that needs its gradient is backpropagated by autograd over the recomputed
    chunk, the rest are detached values."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, temperature: float, chunk: int, with_entropy: bool, stats: tuple):
        n = hidden.shape[0]
        logprobs = hidden.new_empty(n, dtype=torch.float32)  # [N]
        entropy = hidden.new_empty(n if with_entropy else 0, dtype=torch.float32)  # [N]
        lse_all = hidden.new_empty(n, dtype=torch.float32)  # [N] saved for the backward
        values = [hidden.new_empty(n, dtype=torch.float32) for _ in stats]  # k x [N]
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            logits = _scaled_logits(hidden[s:e], weight, temperature)  # [C, V] fp32
            lse = torch.logsumexp(logits, dim=-1)  # [C]
            logprobs[s:e] = logits.gather(-1, targets[s:e, None]).squeeze(-1) - lse
            if with_entropy:
                probs = torch.softmax(logits, dim=-1)  # [C, V]
                # H = lse - sum_v p_v s_v; the dot product as bmm avoids a third [C, V] temporary
                entropy[s:e] = lse - torch.bmm(probs[:, None, :], logits[:, :, None]).view(-1)
                del probs
            for out, (fn, settings, _) in zip(values, stats):
                out[s:e] = fn(logits, targets[s:e], settings).float()
            lse_all[s:e] = lse
            del logits
        ctx.save_for_backward(hidden, weight, targets, lse_all, entropy)
        ctx.temperature, ctx.chunk, ctx.stats = temperature, chunk, stats
        ctx.set_materialize_grads(False)  # a None grad for entropy / a stat = values only, skip its term
        return (logprobs, entropy, *values)

    @staticmethod
    def backward(ctx, grad_logprobs, grad_entropy, *grad_stats):
        hidden, weight, targets, lse_all, entropy = ctx.saved_tensors
        t, chunk, n = ctx.temperature, ctx.chunk, hidden.shape[0]
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_hidden = torch.zeros_like(hidden) if need_h else None  # [N, H]
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None  # [V, H]
        live = [(st, g) for st, g in zip(ctx.stats, grad_stats) if g is not None and st[2]]
        if grad_logprobs is None and grad_entropy is None and not live:
            return grad_hidden, grad_weight, None, None, None, None, None
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            # in place on two [C, V] buffers: a = logits -> log p -> dL/ds, b = p -> gl * p
            a = _scaled_logits(hidden[s:e], weight, t).sub_(lse_all[s:e, None])  # [C, V] log-softmax
            b = a.exp()  # [C, V] probs
            if grad_entropy is not None:  # -gH * p * (log p + H)
                a.add_(entropy[s:e, None]).mul_(b).mul_(-grad_entropy[s:e, None].float())
            else:
                a.zero_()
            if grad_logprobs is not None:  # gl * (onehot - p)
                gl = grad_logprobs[s:e, None].float()  # [C, 1]
                a.sub_(b.mul_(gl))
                a.scatter_add_(-1, targets[s:e, None], gl)
            g = a.div_(t)  # [C, V] dL/dz (ds/dz = 1 / temperature)
            del b
            if live:  # statistics with a gradient: autograd through the recomputed chunk
                g = g + _stat_grad(hidden[s:e], weight, targets[s:e], t, [(st, gs[s:e]) for st, gs in live])
            if need_h:
                grad_hidden[s:e] = (g.to(weight.dtype) @ weight).to(hidden.dtype)  # [C, H]
            if need_w:
                grad_weight.addmm_(g.t(), hidden[s:e].float())
        if need_w:
            grad_weight = grad_weight.to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None, None, None


def _stat_grad(hidden, weight, targets, temperature, live) -> torch.Tensor:
    """dL/dz [C, V] of the statistics that need a gradient, by autograd over this chunk's logits."""
    with torch.enable_grad():
        z = (hidden.detach() @ weight.detach().t()).float().requires_grad_(True)  # [C, V] raw logits
        s = z / temperature if temperature != 1.0 else z
        out = sum((fn(s, targets, settings).float() * g.float()).sum() for (fn, settings, _), g in live)
        (grad,) = torch.autograd.grad(out, [z])
    return grad


def _scaled_logits(hidden: torch.Tensor, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    # The matmul runs in the model dtype (as the HF model's own lm_head does), the softmax maths in fp32.
    logits = (hidden @ weight.t()).float()  # [C, V]
    return logits.div_(temperature) if temperature != 1.0 else logits


def chunked_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *, temperature: float = 1.0,
                     chunk: int = 1024, with_entropy: bool = True, stats: tuple = ()):
    """Log-prob of `targets` and entropy for each row of `hidden` [N, H] under head `weight` [V, H].

    Returns fp32 (logprobs [N], entropy [N] or None) and, with `stats` ((fn, settings, needs_grad), ...), a
    third element: their values, a tuple of [N]. The entropy carries a gradient only if the caller uses it in the
    loss (entropy bonus); otherwise its backward term is skipped. Under no_grad nothing is saved.
    """
    stats = tuple(stats)
    if hidden.shape[0] == 0:
        z = (hidden.sum() * 0.0 + weight.sum() * 0.0).float()  # keeps the graph connected for an empty selection
        empty = z.expand(0)
        out = (empty, empty if with_entropy else None)
        return out + (tuple(empty for _ in stats),) if stats else out
    lp, ent, *values = ChunkedLogprobs.apply(hidden, weight, targets, float(temperature), int(max(chunk, 1)),
                                             bool(with_entropy), stats)
    out = (lp, ent if with_entropy else None)
    return out + (tuple(values),) if stats else out


def select_positions(loss_mask: torch.Tensor) -> torch.Tensor:
    """Flat indices (into the [B*T] flattening) of the tokens that get a log-prob: the loss tokens.

    Token t is predicted by the hidden state at t-1 of the same row; column 0 is never a loss token (types.py).
    """
    if loss_mask[:, :1].any():
        raise ValueError("loss_mask[:, 0] must be 0: the first token of a row has no predicting position")
    return loss_mask.reshape(-1).nonzero().squeeze(-1)  # [K]


def token_logprobs(hidden: torch.Tensor, head, input_ids: torch.Tensor, loss_mask: torch.Tensor, *,
                   temperature: float = 1.0, chunk: int = 1024, with_entropy: bool = True,
                   stats: tuple = ()) -> tuple:
    """Per-token log-probs, entropy (or None) and statistics [B, T] (alignment rule of types.py), computed only
    where loss_mask is set; 0 elsewhere. What `PolicyModel` runs in training.

    hidden [B, T, H] are the final hidden states (after the last norm); `head` is the LM head: a module whose
    forward accepts targets (`PolicyModel` installs one, so ZeRO-3 hooks see a module call) or a [V, H] weight.
    """
    b, t, h = hidden.shape
    idx = select_positions(loss_mask)  # [K]
    flat_h = hidden.reshape(b * t, h)[idx - 1]  # [K, H] position t is predicted by the hidden state at t-1
    targets = input_ids.reshape(-1)[idx]  # [K]
    kw = dict(temperature=temperature, chunk=chunk, with_entropy=with_entropy, stats=tuple(stats))
    out = head(flat_h, targets, **kw) if isinstance(head, torch.nn.Module) else chunked_logprobs(flat_h, head, targets, **kw)
    lp, ent = out[0], out[1]
    values = out[2] if stats else ()

    def scatter(x):  # [K] -> [B, T], keeps the graph
        return x.new_zeros(b * t).index_put((idx,), x).view(b, t)

    return scatter(lp), (scatter(ent) if ent is not None else None), tuple(scatter(v) for v in values)


def shared_prefix_logprobs(decoder, head, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           loss_mask: torch.Tensor, group_ids: torch.Tensor, **kw) -> tuple | None:
    """`token_logprobs` for rows that come in groups sharing a prompt, running each group's common prefix once.

    A GRPO group is G rows `prompt + response_j`; causal attention makes the prompt's hidden states (and its
    keys/values) identical in every row, so they are computed once per group: the decoder runs over the U
    prefixes [U, C] (left-padded), their KV cache is repeated to the group's rows (repeat_interleave, so the
    backward sums the rows' gradients into the one prefix pass) and the suffixes [b, S] run on top of it. The
    token work drops from b * (C + S) to U * C + b * S, the same maths up to float rounding.

    The prefix of a group is the longest run of columns equal in all its rows, cut at the group's first loss
    token (so every loss token is predicted from the suffix pass or the prefix's last state). Rows of a group
    must be consecutive. Returns None when there is nothing to share (then use the plain path).
    kw: temperature, chunk, with_entropy, stats (as token_logprobs); the decoder must not checkpoint.
    """
    from transformers import DynamicCache

    b, T = input_ids.shape
    gids, counts = torch.unique_consecutive(group_ids, return_counts=True)  # [U]
    if len(gids) == b or len(torch.unique(gids)) != len(gids):
        return None  # no group with two rows, or a group's rows are not consecutive
    lengths = attention_mask.sum(-1)  # [b]
    cuts = []
    for r0, n in zip((counts.cumsum(0) - counts).tolist(), counts.tolist()):
        ids, lm = input_ids[r0:r0 + n], loss_mask[r0:r0 + n] > 0
        differs = ~(ids == ids[:1]).all(0)  # [T]
        c = int(lengths[r0:r0 + n].min())
        if differs.any():
            c = min(c, int(differs.float().argmax()))
        if lm.any():
            c = min(c, int(lm.any(0).float().argmax()))
        cuts.append(c)
    cut = torch.tensor(cuts, device=input_ids.device)  # [U] prefix length of each group
    if int(cut.min()) < 1:
        return None
    width = int(cut.max())
    col = torch.arange(width, device=input_ids.device)  # [C]
    pmask = (col[None] >= width - cut[:, None]).long()  # [U, C] left-padded prefixes
    src = (col[None] - (width - cut[:, None])).clamp(min=0)  # [U, C] source column
    first = counts.cumsum(0) - counts  # [U] first row of each group
    prefix = input_ids[first].gather(1, src) * pmask  # [U, C]
    row_cut = cut.repeat_interleave(counts)  # [b]
    suffix_len = lengths - row_cut  # [b]
    width_s = max(int(suffix_len.max()), 1)
    scol = torch.arange(width_s, device=input_ids.device)  # [S]
    smask = (scol[None] < suffix_len[:, None]).long()  # [b, S] right-padded suffixes
    at = (row_cut[:, None] + scol[None]).clamp(max=T - 1)  # [b, S] column in the [b, T] layout
    suffix = input_ids.gather(1, at) * smask  # [b, S]
    suffix_loss = loss_mask.gather(1, at) * smask  # [b, S]
    if loss_mask.sum() != suffix_loss.sum():
        raise AssertionError("shared_prefix_logprobs: a loss token fell outside the suffixes")
    cache = DynamicCache()
    hp = decoder(input_ids=prefix, attention_mask=pmask, position_ids=(pmask.cumsum(-1) - 1).clamp(min=0),
                 past_key_values=cache, use_cache=True)
    cache = hp.past_key_values
    for layer in cache.layers:  # [U, ...] -> [b, ...]: the prefix keys/values of each row's group
        layer.keys = layer.keys.repeat_interleave(counts, 0)
        layer.values = layer.values.repeat_interleave(counts, 0)
    hs = decoder(input_ids=suffix, attention_mask=torch.cat([pmask.repeat_interleave(counts, 0), smask], 1),
                 position_ids=row_cut[:, None] + scol[None], past_key_values=cache,
                 use_cache=True).last_hidden_state  # [b, S, H]
    last = hp.last_hidden_state[:, -1:].repeat_interleave(counts, 0)  # [b, 1, H] predicts suffix token 0
    hidden = torch.cat([last, hs], 1)  # [b, 1 + S, H]: state j predicts suffix token j
    zero = suffix.new_zeros(b, 1)
    lp, ent, values = token_logprobs(hidden, head, torch.cat([zero, suffix], 1),
                                     torch.cat([zero.to(loss_mask.dtype), suffix_loss], 1), **kw)
    keep = smask.bool()  # [b, S]
    rows = torch.arange(b, device=input_ids.device)[:, None].expand(b, width_s)[keep]

    def back(x):  # [b, 1 + S] -> [b, T], keeps the graph
        return x.new_zeros(b, T).index_put((rows, at[keep]), x[:, 1:][keep])

    return back(lp), (back(ent) if ent is not None else None), tuple(back(v) for v in values)


def naive_token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor, *,
                         temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference with full [B, T, V] fp32 logits (tests and benchmarks only)."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)  # [B, T, V]
    lp = logp[:, :-1].gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [B, T-1] predicts token t+1
    ent = -(logp.exp() * logp).sum(-1)[:, :-1]  # [B, T-1]
    pad = lp.new_zeros(lp.shape[0], 1)
    m = loss_mask.float()
    return torch.cat([pad, lp], 1) * m, torch.cat([pad, ent], 1) * m


__all__ = ["ChunkedLogprobs", "chunked_logprobs", "naive_token_logprobs", "select_positions", "shared_prefix_logprobs",
           "token_logprobs"]
