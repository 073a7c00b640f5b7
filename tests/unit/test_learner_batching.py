"""make_batch alignment on hand-built groups, and token-budget micro-batch splitting."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from rlvr.learner.batching import make_batch, micro_batch_rows, model_inputs, select_rows, unpack
from rlvr.types import Group, Prompt, Rollout


def _groups():
    g0 = Group(Prompt("a", "", "", prompt_ids=[11, 12]),
               [Rollout([21, 22, 23], "", [-0.1, -0.2, -0.3], "stop"), Rollout([24], "", [-0.4], "length")],
               rewards=[1.0, 0.0], acc=[1.0, 0.0])
    g1 = Group(Prompt("b", "", "", prompt_ids=[13, 14, 15]),
               [Rollout([25, 26], "", [-0.5, -0.6], "stop"), Rollout([27, 28, 29, 30], "", [-0.7] * 4, "stop")],
               rewards=[0.5, 0.25], acc=[1.0, 0.0])
    return [g0, g1]


def test_make_batch_alignment():
    b = make_batch(_groups(), pad_id=0)
    adv = torch.tensor([[1.0, -1.0], [2.0, -2.0]])  # [N, G]
    b = dataclasses.replace(b, advantages=adv.flatten(), stats={"old_entropy": torch.ones_like(b.loss_mask)})
    # rows group-major: (a,0) (a,1) (b,0) (b,1); T = 3 + 4 = 7 (longest row)
    assert b.input_ids.tolist() == [[11, 12, 21, 22, 23, 0, 0], [11, 12, 24, 0, 0, 0, 0],
                                    [13, 14, 15, 25, 26, 0, 0], [13, 14, 15, 27, 28, 29, 30]]
    assert b.attention_mask.sum(-1).tolist() == [5, 3, 5, 7]
    # loss_mask marks the response tokens themselves (index t describes input_ids[:, t])
    assert b.loss_mask.tolist() == [[0, 0, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0, 0],
                                    [0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1]]
    assert b.sampler_logprobs[0, 2:5].tolist() == pytest.approx([-0.1, -0.2, -0.3])
    assert b.sampler_logprobs[1, 2].item() == pytest.approx(-0.4) and b.sampler_logprobs[1, 3:].abs().sum() == 0
    assert b.advantages.tolist() == [1.0, -1.0, 2.0, -2.0]
    assert b.rewards.tolist() == [1.0, 0.0, 0.5, 0.25] and b.acc.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert b.group_size == 2 and b.grouped(b.rewards).tolist() == [[1.0, 0.0], [0.5, 0.25]]  # [N, G]
    assert b.truncated.tolist() == [False, True, False, False]
    assert b.group_ids.tolist() == [0, 0, 1, 1]
    assert b.lengths.tolist() == [3, 1, 2, 4]
    sub = select_rows(b, torch.tensor([1, 2]))  # trimmed to the longest selected row (5 tokens)
    assert sub.input_ids.shape == (2, 5) and sub.advantages.tolist() == [-1.0, 2.0]
    assert sub.stats["old_entropy"].shape == (2, 5)  # old-pass statistics are sliced with the rows


def test_make_batch_errors_name_the_prompt():
    gs = _groups()
    gs[1].rollouts.append(gs[1].rollouts[0])
    with pytest.raises(ValueError, match="same number of rollouts, got sizes \\[2, 3\\]"):
        make_batch(gs, pad_id=0)
    gs = _groups()
    gs[1].rollouts[0].sampler_logprobs = [-1.0]
    with pytest.raises(ValueError, match="prompt b rollout 0: 1 sampler_logprobs for 2"):
        make_batch(gs, pad_id=0)


def test_micro_batches_by_token_budget():
    lengths = [10, 3, 7, 6, 2]
    # packed, first-fit decreasing under 12 tokens: 10+2 | 7+3 | 6
    assert micro_batch_rows(lengths, 12, packed=True) == [[0, 4], [1, 2], [3]]
    # padded, sorted by length, rows * longest <= 12: [10] | [7] | [6, 3] (2*6=12) | [2]
    assert micro_batch_rows(lengths, 12, packed=False) == [[0], [2], [1, 3], [4]]
    # a row over the budget still gets its own micro-batch
    assert micro_batch_rows([50, 1], 8, packed=True) == [[0], [1]]
    # forced count (other ranks need more passes): the costliest multi-row bin is split, then empty ones
    assert micro_batch_rows(lengths, 12, packed=True, count=4) == [[1, 2], [3], [0], [4]]
    assert micro_batch_rows([4], 12, packed=True, count=2) == [[0], []]
    with pytest.raises(ValueError, match="count=1"):
        micro_batch_rows(lengths, 12, packed=True, count=1)
    for parts in (micro_batch_rows(lengths, 12, packed=True), micro_batch_rows(lengths, 12, packed=False)):
        assert sorted(i for p in parts for i in p) == list(range(5))  # every row exactly once


def test_pack_unpack_roundtrip():
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    attn = (ids > 0).long()
    mask = torch.tensor([[0, 1, 1, 0], [0, 1, 0, 0]], dtype=torch.float32)
    inp = model_inputs(ids, attn, mask, packed=True)
    assert inp.input_ids.tolist() == [[5, 6, 7, 8, 9]] and inp.attention_mask is None
    assert inp.position_ids.tolist() == [[0, 1, 2, 0, 1]]  # restarts per sequence (transformers detects packing)
    assert inp.loss_mask.tolist() == [[0, 1, 1, 0, 1]]
    back = unpack(inp.input_ids.float(), inp, ids.shape)
    assert back.tolist() == ids.float().tolist()


def test_micro_batch_groups_keeps_groups_whole():
    from rlvr.learner.batching import micro_batch_groups

    gids = [0, 0, 1, 1, 2, 2, 3, 3]
    lengths = [10, 12, 30, 5, 8, 8, 20, 21]
    parts = micro_batch_groups(gids, lengths, budget=60)
    assert sorted(i for p in parts for i in p) == list(range(8))
    for p in parts:
        assert all(j in p for i in p for j in range(8) if gids[j] == gids[i])  # whole groups only
        assert len(p) * max(lengths[i] for i in p) <= 60
    assert micro_batch_groups(gids, lengths, budget=59 // 2) is None  # group 1 alone (2 x 30) is over budget
    assert micro_batch_groups([0, 1, 0], [3, 3, 3], budget=100) is None  # a group's rows not consecutive
    parts = micro_batch_groups(gids, lengths, budget=1000, count=5)  # one natural bin split by groups, padded
    assert len(parts) == 5 and sum(not p for p in parts) == 1
    assert all(len({gids[i] for i in p}) <= 1 for p in parts)
