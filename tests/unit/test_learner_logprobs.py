"""Chunked log-probs / entropy vs a naive full-logits reference (values and gradients), and packed == padded."""
from __future__ import annotations

import pytest
import torch

from rlvr.learner.logprobs import chunked_logprobs, naive_token_logprobs, token_logprobs


def _naive(hidden, weight, targets, temperature):
    logp = torch.log_softmax((hidden @ weight.t()).float() / temperature, -1)  # [N, V] full logits
    return logp.gather(-1, targets[:, None]).squeeze(-1), -(logp.exp() * logp).sum(-1)


# 64 > N: one chunk, whose log-softmax the forward keeps for the first backward; the later grads recompute it
@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_chunked_matches_naive_values_and_grads(chunk, temperature):
    g = torch.Generator().manual_seed(0)
    N, H, V = 13, 8, 50
    hidden = torch.randn(N, H, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(V, H, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, V, (N,), generator=g)
    w_lp, w_ent = torch.randn(N, generator=g, dtype=torch.float64), torch.randn(N, generator=g, dtype=torch.float64)

    lp, ent = chunked_logprobs(hidden, weight, targets, temperature=temperature, chunk=chunk)
    ref_lp, ref_ent = _naive(hidden, weight, targets, temperature)
    torch.testing.assert_close(lp.double(), ref_lp.double(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ent.double(), ref_ent.double(), rtol=1e-5, atol=1e-5)

    # loss uses both outputs: checks the log-prob and the entropy terms of the chunked backward
    gh, gw = torch.autograd.grad((lp * w_lp).sum() + (ent * w_ent).sum(), (hidden, weight), retain_graph=True)
    rh, rw = torch.autograd.grad((ref_lp * w_lp).sum() + (ref_ent * w_ent).sum(), (hidden, weight),
                                 retain_graph=True)
    torch.testing.assert_close(gh, rh, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gw, rw, rtol=1e-5, atol=1e-5)

    # entropy unused in the loss -> only the log-prob term (entropy grad is None, skipped)
    gh2, = torch.autograd.grad((lp * w_lp).sum(), hidden)
    rh2, = torch.autograd.grad((ref_lp * w_lp).sum(), hidden)
    torch.testing.assert_close(gh2, rh2, rtol=1e-5, atol=1e-5)


def test_gradcheck_double():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 9, (5,), generator=g)
    # fp32 internals -> loose tolerances; checks the analytic backward of both outputs at T = 0.8
    assert torch.autograd.gradcheck(lambda h, w: tuple(x.double() for x in chunked_logprobs(
        h, w, targets, temperature=0.8, chunk=2)), (hidden, weight), eps=1e-3, atol=1e-3, rtol=1e-2)


def test_token_logprobs_alignment_and_mask():
    g = torch.Generator().manual_seed(2)
    B, T, H, V = 2, 6, 4, 11
    hidden = torch.randn(B, T, H, generator=g)
    weight = torch.randn(V, H, generator=g)
    ids = torch.randint(0, V, (B, T), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=torch.float32)
    lp, ent, _ = token_logprobs(hidden, weight, ids, mask, temperature=1.3, chunk=2)
    ref_lp, ref_ent = naive_token_logprobs(hidden @ weight.t(), ids, mask, temperature=1.3)
    torch.testing.assert_close(lp, ref_lp, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ent, ref_ent, rtol=1e-5, atol=1e-6)
    # hand check of the rule "index t describes input_ids[:, t]": row 0, t=2 is predicted by hidden[0, 1]
    z = hidden[0, 1] @ weight.t() / 1.3
    assert torch.allclose(lp[0, 2], torch.log_softmax(z, -1)[ids[0, 2]], atol=1e-6)
    assert (lp[mask == 0] == 0).all() and (ent[mask == 0] == 0).all()
    with pytest.raises(ValueError, match="loss_mask"):
        token_logprobs(hidden, weight, ids, torch.ones(B, T))


def test_packed_equals_padded_on_tiny_qwen2(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from rlvr.learner.policy import PolicyModel

    g = torch.Generator().manual_seed(3)
    lens, prompts = [9, 4, 13], [3, 2, 5]
    T = max(lens)
    ids = torch.randint(5, 900, (3, T), generator=g)
    attn = torch.zeros(3, T, dtype=torch.long)
    mask = torch.zeros(3, T)
    for i, (L, P) in enumerate(zip(lens, prompts)):
        attn[i, :L] = 1
        mask[i, P:L] = 1
    for impl in ["sdpa", "eager"]:
        hf = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, attn_implementation=impl)
        model = PolicyModel(hf)
        lp_pad, ent_pad, _ = model(ids, attn, mask, packed=False, temperature=0.9, chunk=4)
        lp_pack, ent_pack, _ = model(ids, attn, mask, packed=True, temperature=0.9, chunk=4)
        torch.testing.assert_close(lp_pack, lp_pad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ent_pack, ent_pad, rtol=1e-4, atol=1e-5)
        # and both equal the HF model's own logits (full-vocabulary reference), row by row without padding
        for i, L in enumerate(lens):
            logits = hf(ids[i:i + 1, :L]).logits  # [1, L, V]
            ref_lp, _ = naive_token_logprobs(logits, ids[i:i + 1, :L], mask[i:i + 1, :L], temperature=0.9)
            torch.testing.assert_close(lp_pad[i:i + 1, :L], ref_lp, rtol=1e-4, atol=1e-5)
        # gradients through the packed path equal the padded path
        model.zero_grad()
        (lp_pad * mask).sum().backward()
        g_pad = hf.model.layers[0].self_attn.q_proj.weight.grad.clone()
        model.zero_grad()
        lp_pack, _, _ = model(ids, attn, mask, packed=True, temperature=0.9, chunk=4)
        (lp_pack * mask).sum().backward()
        torch.testing.assert_close(hf.model.layers[0].self_attn.q_proj.weight.grad, g_pad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
@pytest.mark.parametrize("layout", ["one_pass", "kv_cache", "one_pass_checkpointed"])
def test_shared_prefix_equals_padded_on_tiny_qwen2(tiny_model_dir, impl, layout, monkeypatch):
    """Groups sharing a prompt (different prompt lengths, ragged responses, a masked row, a group whose
    responses share a first token): running each prompt once gives the padded path's values and gradients, in
    both layouts of shared_prefix_logprobs (one pass under a block mask; KV cache: forced by a zero mask budget),
    and the one-pass layout under gradient checkpointing."""
    from transformers import AutoModelForCausalLM

    from rlvr.learner import logprobs
    from rlvr.learner.policy import PolicyModel

    if layout == "kv_cache":
        monkeypatch.setattr(logprobs, "MASK_BUDGET", 0)

    g = torch.Generator().manual_seed(5)
    prompt_lens, resp_lens = [6, 3, 9], [[4, 7, 1], [5, 2, 6], [3, 3, 8]]
    G, T = 3, max(p + max(r) for p, r in zip(prompt_lens, resp_lens))
    ids = torch.zeros(3 * G, T, dtype=torch.long)
    attn, mask = torch.zeros(3 * G, T, dtype=torch.long), torch.zeros(3 * G, T)
    for u, (P, rl) in enumerate(zip(prompt_lens, resp_lens)):
        prompt = torch.randint(5, 900, (P,), generator=g)
        for j, L in enumerate(rl):
            i = u * G + j
            ids[i, :P], ids[i, P:P + L] = prompt, torch.randint(5, 900, (L,), generator=g)
            attn[i, :P + L], mask[i, P:P + L] = 1, 1.0
    ids[3:6, 3] = 17  # group 1: every response starts with the same token (still a loss token)
    mask[7] = 0.0  # a row without loss tokens
    mask[2, 6] = 0.0  # ... and a group whose first response token is masked in one row only
    groups = torch.arange(3).repeat_interleave(G)
    hf = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, attn_implementation=impl)
    if layout == "one_pass_checkpointed":
        hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        hf.train()
    model = PolicyModel(hf)
    runs = []
    calls = []
    monkeypatch.setattr(logprobs, "_one_pass", lambda *a, _f=logprobs._one_pass: calls.append(1) or _f(*a))
    for gid in (None, groups):
        model.zero_grad()
        lp, ent, _ = model(ids, attn, mask, packed=False, temperature=0.9, chunk=5, group_ids=gid,
                           kv_cache=layout == "kv_cache")
        ((lp * mask).sum() + (ent * mask).sum() * 0.1).backward()
        grads = [p.grad.clone() for p in (hf.model.layers[0].self_attn.k_proj.weight, hf.model.embed_tokens.weight,
                                          hf.lm_head.weight)]
        runs.append((lp.detach(), ent.detach(), grads))
    (lp0, ent0, g0), (lp1, ent1, g1) = runs
    assert len(calls) == (layout != "kv_cache")  # the layout under test ran
    assert torch.isfinite(lp1).all() and (lp1[mask == 0] == 0).all()
    torch.testing.assert_close(lp1, lp0, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ent1, ent0, rtol=1e-4, atol=1e-5)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_shared_prefix_declines_when_no_layout_applies(tiny_model_dir):
    """Groups too long for the one-pass mask and no KV cache allowed (gradient checkpointing, ZeRO-3): None, so
    the caller runs the plain padded path."""
    from transformers import AutoModelForCausalLM

    from rlvr.learner.logprobs import shared_prefix_logprobs
    from rlvr.learner.policy import PolicyModel

    hf = PolicyModel(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)).hf
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 9, 10]])
    ones, loss = torch.ones_like(ids), torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    args = (hf.model, hf.lm_head, ids, ones, loss, torch.tensor([0, 0]))
    assert shared_prefix_logprobs(*args, kv_cache=False, mask_budget=0) is None
    assert shared_prefix_logprobs(*args, kv_cache=True, mask_budget=0) is not None
    assert shared_prefix_logprobs(*args, kv_cache=False) is not None


@pytest.mark.parametrize("dims, groups, prompt, response, one_pass", [
    ((896, 24, 4864, 14, 2, 151936), 1, 70, 64, True),  # Qwen2.5-0.5B shape: one pass 13.7 s vs KV 19.9 s
    ((512, 6, 1408, 8, 8, 1024), 4, 200, 128, False),  # 30M bench model: one pass ~11 s vs KV ~8.3 s
])
def test_shared_prefix_layout_choice_follows_measurements(dims, groups, prompt, response, one_pass):
    """_one_pass_cheaper's FLOP model picks the layout that was faster, forward + backward on 1 CPU thread
    (shared_prefix_logprobs' docstring), with 4 and 8 rows per group."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from rlvr.learner.logprobs import _one_pass_cheaper

    hidden, layers, inter, heads, kv_heads, vocab = dims
    cfg = Qwen2Config(hidden_size=hidden, num_hidden_layers=layers, intermediate_size=inter,
                      num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocab)
    with torch.device("meta"):  # shapes only: no weights allocated
        decoder = AutoModelForCausalLM.from_config(cfg).model
    rows = 4 if one_pass else 8
    counts, cut = torch.full((groups,), rows), torch.full((groups,), prompt)
    assert _one_pass_cheaper(decoder, counts, cut, prompt + rows * response, response) == one_pass
