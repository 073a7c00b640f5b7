"""Groups -> `Batch` tensors, token-budget micro-batches, and padding removal (packing).

Alignment rule (types.py): index t of every per-token tensor describes the token at `input_ids[:, t]`; row i is
`prompt_ids + response_ids` right-padded, so its response occupies columns [P_i, P_i + L_i).

Packing: the rows of a micro-batch are concatenated into one row with `position_ids` restarting at 0 for each
sequence and no attention mask. transformers (>= 4.5x, checked on 5.19) detects this layout in
`masking_utils.find_packed_sequence_indices` (only when attention_mask is None) and builds a block-diagonal causal
mask for sdpa / eager / flex; flash_attention_2/3 derive `cu_seqlens` from the same position_ids. Packed results
equal padded ones for all of these (tests/unit/test_learner_logprobs.py), but sdpa/eager attend over the dense
[S, S] block-diagonal mask, so their cost grows with the square of the *packed* length: measured on CPU
(scripts/bench/bench_packing.py) packing with sdpa was 2x slower than padded micro-batches sorted by length. So the
learner packs only with varlen kernels (PACKABLE_ATTENTION) and otherwise uses padded micro-batches sorted by
length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from rlvr.types import Batch, Group

# attention backends where packing saves work (varlen / block-sparse kernels); sdpa/eager are correct but slower
PACKABLE_ATTENTION = ("flash_attention_2", "flash_attention_3", "flex_attention")


def make_batch(groups: list[Group], pad_id: int) -> Batch:
    """Rows group-major (row = g * G + j), each prompt + response right-padded; advantages come later."""
    sizes = {len(g.rollouts) for g in groups}
    if len(sizes) != 1:
        raise ValueError(f"make_batch: every group needs the same number of rollouts, got sizes {sorted(sizes)}")
    rows, rewards, acc, trunc, gids = [], [], [], [], []
    for gi, g in enumerate(groups):
        if not g.prompt.prompt_ids:
            raise ValueError(f"make_batch: prompt {g.prompt.id} has no prompt_ids (tokenize prompts first)")
        for j, r in enumerate(g.rollouts):
            if len(r.sampler_logprobs) not in (0, len(r.response_ids)):
                raise ValueError(f"make_batch: prompt {g.prompt.id} rollout {j}: {len(r.sampler_logprobs)} "
                                 f"sampler_logprobs for {len(r.response_ids)} response tokens")
            rows.append((g.prompt.prompt_ids, r.response_ids, r.sampler_logprobs))
            rewards.append(float(g.rewards[j]) if g.rewards else 0.0)
            acc.append(float(g.acc[j]) if g.acc else 0.0)
            trunc.append(r.truncated)
            gids.append(gi)
    T = max(len(p) + len(r) for p, r, _ in rows)
    B = len(rows)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)  # [B, T]
    attention_mask = torch.zeros(B, T, dtype=torch.long)  # [B, T]
    loss_mask = torch.zeros(B, T, dtype=torch.float32)  # [B, T]
    sampler = torch.zeros(B, T, dtype=torch.float32)  # [B, T]
    for i, (p, r, s) in enumerate(rows):
        P, L = len(p), len(r)
        input_ids[i, :P + L] = torch.tensor(list(p) + list(r), dtype=torch.long)
        attention_mask[i, :P + L] = 1
        loss_mask[i, P:P + L] = 1.0
        if s:
            sampler[i, P:P + L] = torch.tensor(s, dtype=torch.float32)
    return Batch(input_ids=input_ids, attention_mask=attention_mask, loss_mask=loss_mask, sampler_logprobs=sampler,
                 rewards=torch.tensor(rewards, dtype=torch.float32), acc=torch.tensor(acc, dtype=torch.float32),
                 truncated=torch.tensor(trunc, dtype=torch.bool), group_ids=torch.tensor(gids, dtype=torch.long),
                 group_size=sizes.pop())


def select_rows(batch: Batch, rows: torch.Tensor, trim: bool = True) -> Batch:
    """Sub-batch of `rows` [b]; with trim the columns are cut to the longest selected row."""
    T = int(batch.attention_mask[rows].sum(-1).max()) if trim and len(rows) else batch.input_ids.shape[1]

    def take(v):
        if v is None or not torch.is_tensor(v):
            return v
        return v[rows, :T] if v.dim() == 2 else v[rows]

    out = {f: take(getattr(batch, f)) for f in batch.__dataclass_fields__ if f != "stats"}
    return Batch(**out, stats={k: take(v) for k, v in batch.stats.items()})


# ------------------------------------------------------------------------------------------ micro-batching


def micro_batch_rows(lengths: list[int], budget: int, *, packed: bool, count: Optional[int] = None) -> list[list[int]]:
    """Split row indices into micro-batches under a token budget.

    packed: first-fit-decreasing on the sum of sequence lengths. padded: rows sorted by length, consecutive rows
    while rows * longest <= budget (sorting keeps the padding small). A row over the budget gets its own
    micro-batch. With `count` (>= the natural count) the largest micro-batches are split until there are exactly
    `count`; empty lists fill up when there are fewer rows than `count` (every rank must run the same number of
    forward/backward passes: ZeRO collectives are per pass).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    if packed:
        loads: list[int] = []
        for i in order:
            for b, load in enumerate(loads):
                if load + lengths[i] <= budget:
                    bins[b].append(i)
                    loads[b] += lengths[i]
                    break
            else:
                bins.append([i])
                loads.append(lengths[i])
    else:
        for i in order:  # descending, so the first row of a bin is its longest
            if bins and (len(bins[-1]) + 1) * lengths[bins[-1][0]] <= budget:
                bins[-1].append(i)
            else:
                bins.append([i])
    if count is not None:
        if count < len(bins):
            raise ValueError(f"micro_batch_rows: count={count} < {len(bins)} micro-batches needed")
        while len(bins) < count:
            cost = [_cost(b, lengths, packed) if len(b) > 1 else -1 for b in bins]
            k = max(range(len(bins)), key=lambda j: cost[j])
            if cost[k] < 0:
                bins.append([])
                continue
            big = bins.pop(k)  # split the costliest multi-row micro-batch in two halves (by position)
            bins += [big[0::2], big[1::2]]
    return [sorted(b) for b in bins]


def micro_batch_groups(group_ids: list[int], lengths: list[int], budget: int, *,
                       count: Optional[int] = None) -> Optional[list[list[int]]]:
    """`micro_batch_rows` (padded) with whole groups per micro-batch, so a group's shared prompt can run once
    (logprobs.shared_prefix_logprobs). Groups sorted by their longest row, consecutive groups while
    rows * longest <= budget; with `count`, multi-group micro-batches are split (by groups) until there are
    `count`, then empty ones are added. None when a single group exceeds the budget or rows of a group are not
    consecutive (then the caller splits rows)."""
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group_ids):
        if members and g != group_ids[i - 1] and g in members:
            return None
        members.setdefault(g, []).append(i)
    cost = {g: len(m) * max(lengths[i] for i in m) for g, m in members.items()}
    if max(cost.values(), default=0) > budget:
        return None
    longest = {g: max(lengths[i] for i in m) for g, m in members.items()}
    bins: list[list[int]] = []  # lists of group ids
    for g in sorted(members, key=lambda g: -longest[g]):  # descending: a bin's first group is its longest
        rows = sum(len(members[h]) for h in bins[-1]) if bins else 0
        if bins and (rows + len(members[g])) * longest[bins[-1][0]] <= budget:
            bins[-1].append(g)
        else:
            bins.append([g])
    if count is not None:
        if count < len(bins):
            raise ValueError(f"micro_batch_groups: count={count} < {len(bins)} micro-batches needed")
        while len(bins) < count:
            multi = [k for k, b in enumerate(bins) if len(b) > 1]
            if not multi:
                bins.append([])
                continue
            k = max(multi, key=lambda k: sum(len(members[g]) for g in bins[k]) * longest[bins[k][0]])
            big = bins.pop(k)
            bins += [big[0::2], big[1::2]]
    return [sorted(i for g in b for i in members[g]) for b in bins]


def _cost(rows: list[int], lengths: list[int], packed: bool) -> int:
    return sum(lengths[i] for i in rows) if packed else len(rows) * max(lengths[i] for i in rows)


# ------------------------------------------------------------------------------------------------- packing


@dataclass
class ModelInputs:
    """What the model forward sees for one micro-batch, and how to map its tokens back to [b, T] rows."""

    input_ids: torch.Tensor  # [R, S] (R = 1 when packed)
    position_ids: torch.Tensor  # [R, S]
    attention_mask: Optional[torch.Tensor]  # [R, S], None when packed (transformers then reads position_ids)
    loss_mask: torch.Tensor  # [R, S]
    index: Optional[torch.Tensor]  # [S] flat index into [b*T] of each packed token (None when padded)


def model_inputs(input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor,
                 packed: bool) -> ModelInputs:
    """Padded [b, T] rows -> model inputs, removing the padding when `packed`."""
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # [b, T]
    if not packed:
        return ModelInputs(input_ids, position_ids, attention_mask, loss_mask, None)
    index = attention_mask.reshape(-1).nonzero().squeeze(-1)  # [S]
    return ModelInputs(input_ids.reshape(-1)[index][None], position_ids.reshape(-1)[index][None], None,
                       loss_mask.reshape(-1)[index][None], index)


def unpack(values: torch.Tensor, inputs: ModelInputs, shape: torch.Size) -> torch.Tensor:
    """Per-token values [R, S] from the model layout back to the padded [b, T] layout (0 on padding)."""
    if inputs.index is None:
        return values
    flat = values.new_zeros(shape[0] * shape[1])  # [b*T]
    return flat.index_put((inputs.index,), values.reshape(-1)).view(shape)  # [b, T], keeps the graph
