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
            if e < n:
                del logits  # before the next chunk's is made
        # One chunk (the usual micro-batch): keep its log-softmax for the backward rather than a second lm-head
        # matmul; the peak is unchanged, as the backward's own [C, V] buffer is this one.
        ctx.log_softmax = logits.sub_(lse[:, None]) if n <= chunk else None
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
        grad_weight = None  # [V, H] fp32, made by the first chunk
        live = [(st, g) for st, g in zip(ctx.stats, grad_stats) if g is not None and st[2]]
        if grad_logprobs is None and grad_entropy is None and not live:
            return grad_hidden, grad_weight, None, None, None, None, None
        kept, ctx.log_softmax = ctx.log_softmax, None  # taken once: a second backward recomputes
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            # in place on two [C, V] buffers: a = logits -> log p -> dL/ds, b = p -> gl * p
            a = kept if kept is not None else _scaled_logits(hidden[s:e], weight, t).sub_(lse_all[s:e, None])
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
            if need_w and s == 0:  # written, not added: spares zero-filling a [V, H] buffer
                grad_weight = g.t() @ hidden[s:e].float()
            elif need_w:
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


# One-pass layout: per group one row [prompt | response_1 | ... | response_G] under a dense [L, L] block mask.
# Its attention wastes the masked blocks and its mask is U * L^2 booleans, so beyond this many elements (64 MiB)
# the KV-cache layout runs instead (or, where that cannot, the plain padded path).
MASK_BUDGET = 1 << 26


def shared_prefix_logprobs(decoder, head, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           loss_mask: torch.Tensor, group_ids: torch.Tensor, *, kv_cache: bool = True,
                           mask_budget: int | None = None, **kw) -> tuple | None:
    """`token_logprobs` for rows that come in groups sharing a prompt, running each group's common prefix once.

    A GRPO group is G rows `prompt + response_j`; causal attention makes the prompt's hidden states (and its
    keys/values) identical in every row, so they are computed once per group and the token work drops from
    b * (C + S) to U * C + b * S, the same maths up to float rounding (Prefix Grouper, Liu et al. 2025,
    arXiv:2506.05433, does the same for GRPO). Two layouts:
      * one pass (when its U * L^2 mask fits mask_budget, default MASK_BUDGET, and _one_pass_cheaper's
        FLOP model finds it cheaper or the KV layout is not allowed): each group is one row
        `[prefix | suffix_1 | ... | suffix_G]` with positions restarting after the prefix and a block mask
        (a suffix sees the prefix and itself, causally). One decoder call: every weight gets one gradient,
        and it works under gradient checkpointing and ZeRO-3. On a 0.5B model, 1 thread, 4 x (70 + 64)
        tokens: forward + backward 13.7 s vs the KV-cache layout's 19.9 s and the plain padded path's
        24.5 s (the KV layout pays a second embedding backward and sums two gradients of every weight);
      * KV cache (kv_cache=True; long groups, where the block mask wastes much attention): the decoder runs
        the U prefixes [U, C], their KV cache is repeated to the rows (repeat_interleave: the backward sums
        the rows' gradients into the one prefix pass) and the suffixes [b, S] run on top. Needs a decoder
        that does not checkpoint (transformers drops the cache) and is not ZeRO-3 (every layer would be
        gathered twice).

    The prefix of a group is the longest run of columns equal in all its rows, cut at the group's first loss
    token (so every loss token is predicted from the suffix pass or the prefix's last state). Rows of a group
    must be consecutive and right-padded. Returns None when there is nothing to share or no layout applies
    (then use the plain path). kw: temperature, chunk, with_entropy, stats (as token_logprobs).
    """
    b, T = input_ids.shape
    gids, counts = torch.unique_consecutive(group_ids, return_counts=True)  # [U]
    if len(gids) == b or len(torch.unique(gids)) != len(gids):
        return None  # no group with two rows, or a group's rows are not consecutive
    lengths = attention_mask.sum(-1)  # [b]
    first = counts.cumsum(0) - counts  # [U] first row of each group
    cuts = []
    for r0, n in zip(first.tolist(), counts.tolist()):
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
    group = torch.arange(len(gids), device=input_ids.device).repeat_interleave(counts)  # [b]
    width = int((cut + torch.zeros_like(cut).index_add_(0, group, suffix_len)).max())  # one-pass row length
    fits = len(gids) * width * width <= (MASK_BUDGET if mask_budget is None else mask_budget)
    if fits and (not kv_cache or _one_pass_cheaper(decoder, counts, cut, width, width_s)):
        hidden = _one_pass(decoder, input_ids, first, counts, cut, row_cut, suffix_len, suffix, smask, width)
    elif kv_cache:
        hidden = _kv_cache_pass(decoder, input_ids, first, counts, cut, row_cut, suffix, smask, scol)
    else:
        return None
    zero = suffix.new_zeros(b, 1)
    lp, ent, values = token_logprobs(hidden, head, torch.cat([zero, suffix], 1),
                                     torch.cat([zero.to(loss_mask.dtype), suffix_loss], 1), **kw)
    keep = smask.bool()  # [b, S]
    rows = torch.arange(b, device=input_ids.device)[:, None].expand(b, width_s)[keep]

    def back(x):  # [b, 1 + S] -> [b, T], keeps the graph
        return x.new_zeros(b, T).index_put((rows, at[keep]), x[:, 1:][keep])

    return back(lp), (back(ent) if ent is not None else None), tuple(back(v) for v in values)


# What the KV-cache layout costs beyond its FLOPs, in forward FLOPs per decoder parameter: a second decoder
# call, a second embedding backward and two gradients of every weight summed. Fitted on CPU, 1 thread:
# 0.5B (4 x (70 + 64) tokens) KV 19.9 s where its FLOPs alone predict 13.5 s, i.e. ~300 per parameter.
KV_OVERHEAD_FLOPS_PER_PARAM = 300


def _one_pass_cheaper(decoder, counts, cut, width: int, width_s: int) -> bool:
    """Whether the one-pass layout beats the KV-cache layout on this batch, by a FLOP model.

    Both layouts do the same token work; the one-pass one attends over the whole [L, L] block of a group
    (sdpa computes masked blocks too), the KV one only over prefix x prefix and suffix x (prefix + suffix),
    but pays KV_OVERHEAD_FLOPS_PER_PARAM. Forward FLOPs per layer: 2 * params * tokens for the weights,
    4 * hidden * (query, key) pairs for attention. It picks what was measured (forward + backward, 1 thread):
    0.5B, 1 group 4 x (70 + 64): one pass 13.7 s, KV 19.9 s; 30M (hidden 512, 6 layers), 4 groups
    8 x (200 + 128): one pass 10.5-11.9 s, KV 7.7-8.9 s (attention is a third of the one-pass FLOPs there).
    """
    cfg = decoder.config
    params = sum(getattr(p, "ds_numel", p.numel()) for p in decoder.parameters())
    hidden, layers = cfg.hidden_size, cfg.num_hidden_layers
    weights = max(params - cfg.vocab_size * hidden, 0)  # the embedding table costs no FLOPs per token
    U, b, C = len(counts), int(counts.sum()), int(cut.max())
    one = 2 * weights * U * width + 4 * hidden * layers * U * width * width
    kv = (2 * weights * (U * C + b * width_s)
          + 4 * hidden * layers * (U * C * C + b * width_s * (C + width_s)))
    return one <= kv + KV_OVERHEAD_FLOPS_PER_PARAM * params


def _one_pass(decoder, input_ids, first, counts, cut, row_cut, suffix_len, suffix, smask, width):
    """-> hidden [b, 1 + S, H]: state j predicts suffix token j, from one decoder call over U rows
    `[prefix | suffix_1 | ... | suffix_G]` (right-padded to `width`) under a block mask."""
    dev, U, (b, S) = input_ids.device, len(counts), suffix.shape
    group = torch.arange(U, device=dev).repeat_interleave(counts)  # [b] group of each row
    ahead = suffix_len.cumsum(0) - suffix_len  # [b] suffix tokens of all earlier rows
    starts = row_cut + ahead - ahead[first][group]  # [b] where row r's suffix starts in its group's row
    seg = torch.full((U, width), -1, dtype=torch.long, device=dev)  # -1 pad, 0 prefix, k + 1: k-th suffix
    packed = torch.zeros(U, width, dtype=input_ids.dtype, device=dev)
    pos = torch.zeros(U, width, dtype=torch.long, device=dev)
    pu, pc = (torch.arange(width, device=dev)[None] < cut[:, None]).nonzero(as_tuple=True)
    packed[pu, pc], pos[pu, pc], seg[pu, pc] = input_ids[first[pu], pc], pc, 0
    j = torch.arange(S, device=dev)[None]  # [1, S]
    keep = smask.bool()  # [b, S]
    su, sc = group[:, None].expand(b, S)[keep], (starts[:, None] + j).expand(b, S)[keep]
    packed[su, sc], pos[su, sc] = suffix[keep], (row_cut[:, None] + j)[keep]
    seg[su, sc] = (torch.arange(b, device=dev) - first[group] + 1)[:, None].expand(b, S)[keep]
    col = torch.arange(width, device=dev)
    key, query = seg[:, None, :], seg[:, :, None]  # [U, 1, L], [U, L, 1]
    allowed = (col[:, None] >= col[None]) & (key >= 0) & ((key == 0) | (key == query))  # [U, L, L]
    allowed |= torch.eye(width, dtype=torch.bool, device=dev)  # pad queries see themselves (no NaN rows)
    h = decoder(input_ids=packed, attention_mask=_mask_for(decoder, allowed[:, None]), position_ids=pos,
                use_cache=False).last_hidden_state  # [U, L, H]
    # the state predicting suffix token j of row r: the prefix's last one for j = 0, else suffix token j - 1
    src = torch.where(j == 0, (row_cut - 1)[:, None], starts[:, None] + j - 1) * keep  # [b, S]
    states = h[group[:, None], src]  # [b, S, H]
    return torch.cat([states, states.new_zeros(b, 1, states.shape[-1])], 1)  # [b, 1 + S, H]


def _mask_for(decoder, allowed: torch.Tensor) -> torch.Tensor:
    """A custom 4D mask in the form the attention implementation reads: sdpa takes booleans (True = attend);
    eager adds the mask to the scores, so it gets 0 / the dtype's minimum."""
    if decoder.config._attn_implementation == "sdpa":
        return allowed
    dtype = next(decoder.parameters()).dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


def _kv_cache_pass(decoder, input_ids, first, counts, cut, row_cut, suffix, smask, scol):
    """-> hidden [b, 1 + S, H]: the U prefixes once [U, C] (left-padded), their KV cache repeated to the rows,
    the suffixes [b, S] on top."""
    from transformers import DynamicCache

    width = int(cut.max())
    col = torch.arange(width, device=input_ids.device)  # [C]
    pmask = (col[None] >= width - cut[:, None]).long()  # [U, C] left-padded prefixes
    src = (col[None] - (width - cut[:, None])).clamp(min=0)  # [U, C] source column
    prefix = input_ids[first].gather(1, src) * pmask  # [U, C]
    hp = decoder(input_ids=prefix, attention_mask=pmask, position_ids=(pmask.cumsum(-1) - 1).clamp(min=0),
                 past_key_values=DynamicCache(), use_cache=True)
    cache = hp.past_key_values
    for layer in cache.layers:  # [U, ...] -> [b, ...]: the prefix keys/values of each row's group
        layer.keys = layer.keys.repeat_interleave(counts, 0)
        layer.values = layer.values.repeat_interleave(counts, 0)
    hs = decoder(input_ids=suffix, attention_mask=torch.cat([pmask.repeat_interleave(counts, 0), smask], 1),
                 position_ids=row_cut[:, None] + scol[None], past_key_values=cache,
                 use_cache=True).last_hidden_state  # [b, S, H]
    last = hp.last_hidden_state[:, -1:].repeat_interleave(counts, 0)  # [b, 1, H] predicts suffix token 0
    return torch.cat([last, hs], 1)  # [b, 1 + S, H]: state j predicts suffix token j


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
