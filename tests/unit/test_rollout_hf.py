"""HF generate engine on the tiny Qwen2 (fast, CPU): groups, seeds, sampler log-probs, weight sync, stops, HAPO."""
import pytest
import torch

from rlvr.config import Config
from rlvr.rollout import EntropyStats, SamplingParams, make_engine, sync_weights
from rlvr.rollout.adaptive_temperature import token_temperature
from rlvr.rollout.hf_engine import HFEngine
from rlvr.types import Prompt

PROMPTS = [Prompt(id="a", text="What is 2 + 3?", answer="5"), Prompt(id="b", text="Solve for x: 2x = 4.", answer="2")]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    cfg = Config()
    cfg.model.path = str(tiny_model_dir)
    cfg.rollout.backend = "hf"
    cfg.rollout.batch_size = 4  # 2 prompts x G=3 -> two generate() calls (tests the batching)
    eng = make_engine(cfg)
    assert isinstance(eng, HFEngine)
    return eng


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


def recompute(model, tokenizer, prompt, rollout, temperature, per_token_t=False):
    """Learner-style log-probs: full-vocab log_softmax(logits / T) of the response tokens (fp32, unpadded)."""
    ids = tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids + rollout.response_ids])).logits[0, len(ids) - 1:-1]  # [L, V]
    t = temperature if not callable(temperature) else temperature(logits)[:, None]  # scalar or [L, 1]
    return torch.log_softmax(logits / t, -1).gather(-1, torch.tensor(rollout.response_ids)[:, None])[:, 0]  # [L]


def test_groups_and_seeds(engine):
    sp = SamplingParams(temperature=1.0, max_tokens=6, seed=11)
    groups = engine.generate(PROMPTS, 3, sp)
    assert [g.prompt.id for g in groups] == ["a", "b"] and all(len(g.rollouts) == 3 for g in groups)
    for r in (r for g in groups for r in g.rollouts):
        assert len(r.sampler_logprobs) == len(r.response_ids) >= 1
        assert all(lp <= 0 for lp in r.sampler_logprobs)
        assert r.finish_reason in ("stop", "length")
        assert r.finish_reason == "stop" or len(r.response_ids) == 6
    ids = lambda gs: [r.response_ids for g in gs for r in g.rollouts]  # noqa: E731
    assert ids(engine.generate(PROMPTS, 3, sp)) == ids(groups)  # same seed -> same samples
    assert ids(engine.generate(PROMPTS, 3, SamplingParams(temperature=1.0, max_tokens=6, seed=12))) != ids(groups)


def test_sampler_logprobs_match_learner_and_weight_sync(engine, hf_model, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    T, sp = 0.7, SamplingParams(temperature=0.7, max_tokens=8, seed=3)
    before = engine.generate(PROMPTS, 2, sp)
    for g in before:
        for r in g.rollouts:
            gap = (torch.tensor(r.sampler_logprobs) - recompute(hf_model, engine.tokenizer, g.prompt, r, T)).abs().max()
            assert gap < 1e-5  # fp32, same maths; left padding only changes masked positions
    # perturb a transformers copy (the "learner"), sync it in two buckets, re-sample with the same seed
    new = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    named = list(new.named_parameters())
    try:
        sync_weights(engine, [named[:10], named[10:]])
        after = engine.generate(PROMPTS, 2, sp)
        assert [r.response_ids for g in after for r in g.rollouts] != [r.response_ids for g in before for r in g.rollouts]
        for g in after:
            for r in g.rollouts:
                lp = torch.tensor(r.sampler_logprobs)
                assert (lp - recompute(new, engine.tokenizer, g.prompt, r, T)).abs().max() < 1e-5
                assert (lp - recompute(hf_model, engine.tokenizer, g.prompt, r, T)).abs().max() > 0.1  # sync happened
    finally:
        sync_weights(engine, [list(hf_model.named_parameters())])
    with pytest.raises(KeyError, match="unknown parameter 'nope'"):
        engine.load_weights([("nope", torch.zeros(1))])


def test_top_k_logprobs_are_of_the_truncated_distribution(engine, hf_model):
    # top_k = 5: the sampled token is among the 5 best and its log-prob is renormalized over those 5
    groups = engine.generate(PROMPTS[:1], 2, SamplingParams(temperature=1.0, top_k=5, max_tokens=5, seed=1))
    ids = engine.tokenizer(PROMPTS[0].text, add_special_tokens=False)["input_ids"]
    for r in groups[0].rollouts:
        with torch.no_grad():
            logits = hf_model(torch.tensor([ids + r.response_ids])).logits[0, len(ids) - 1:-1]  # [L, V]
        top = logits.topk(5, dim=-1)  # values/indices [L, 5]
        tokens = torch.tensor(r.response_ids)[:, None]  # [L, 1]
        assert (top.indices == tokens).any(-1).all()
        expected = top.values.log_softmax(-1)[top.indices == tokens]  # [L] log-prob within the top-5 set
        torch.testing.assert_close(torch.tensor(r.sampler_logprobs), expected, atol=1e-5, rtol=0)


def test_no_top_k_means_the_full_vocabulary(engine, hf_model):
    # Regression: GenerationConfig(top_k=None) let transformers add its default top-k 50. At a high temperature
    # the tiny model's distribution is near-uniform over ~1k tokens, so most sampled tokens rank beyond 50.
    groups = engine.generate(PROMPTS[:1], 4, SamplingParams(temperature=5.0, max_tokens=16, seed=3))
    ids = engine.tokenizer(PROMPTS[0].text, add_special_tokens=False)["input_ids"]
    ranks = []
    for r in groups[0].rollouts:
        with torch.no_grad():
            logits = hf_model(torch.tensor([ids + r.response_ids])).logits[0, len(ids) - 1:-1]  # [L, V]
        picked = logits.gather(-1, torch.tensor(r.response_ids)[:, None])  # [L, 1]
        ranks += (logits > picked).sum(-1).tolist()  # 0 = the most likely token
    assert max(ranks) >= 50, ranks


def test_greedy_and_stop_string(engine, hf_model):
    greedy = engine.generate(PROMPTS[:1], 2, SamplingParams(temperature=0.0, max_tokens=6))
    a, b = greedy[0].rollouts
    assert a.response_ids == b.response_ids  # greedy is deterministic
    assert torch.allclose(torch.tensor(a.sampler_logprobs), recompute(hf_model, engine.tokenizer, greedy[0].prompt, a, 1.0), atol=1e-5)
    # stop at the text of the 3rd greedy token: the response ends with the token that completes the stop string
    stop = engine.tokenizer.decode(a.response_ids[2:3])
    if stop.strip() and stop not in engine.tokenizer.decode(a.response_ids[:2]):
        cut = engine.generate(PROMPTS[:1], 1, SamplingParams(temperature=0.0, max_tokens=6, stop=[stop]))[0].rollouts[0]
        assert cut.finish_reason == "stop" and cut.response_ids == a.response_ids[:3]
        assert cut.response_text.endswith(stop)


def test_hapo_adaptive_temperature(tiny_model_dir, hf_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    eng = HFEngine(str(tiny_model_dir), tok, batch_size=8, adaptive_temperature=True,
                   adaptive_temperature_params={"tau": 0.5})  # large tau so the effect is visible
    sp = SamplingParams(temperature=0.8, max_tokens=6, seed=5)
    fixed = eng.generate(PROMPTS[:1], 2, sp)  # no statistics yet -> T_base
    r = fixed[0].rollouts[0]
    torch.testing.assert_close(torch.tensor(r.sampler_logprobs), recompute(hf_model, tok, fixed[0].prompt, r, 0.8), atol=1e-5, rtol=0)
    # the tiny model's entropies sit near log(V) ~ 6.9: a pivot there spreads h_hat over [-1, 1]
    stats = EntropyStats(pivot=1.93, sigma=0.001, h_pos_max=1.0, h_neg_min=-1.0)
    eng.set_entropy_stats(stats)
    groups = eng.generate(PROMPTS[:1], 2, sp)
    for r in groups[0].rollouts:
        lp = torch.tensor(r.sampler_logprobs)
        t_fn = lambda logits: token_temperature(logits, 0.8, stats, tau=0.5)  # noqa: E731
        torch.testing.assert_close(lp, recompute(hf_model, tok, groups[0].prompt, r, t_fn), atol=1e-5, rtol=0)
        assert (lp - recompute(hf_model, tok, groups[0].prompt, r, 0.8)).abs().max() > 1e-3


def test_decode_paths_agree(engine, hf_model):
    """The prompt-shared decode attention (equal groups), the repeated-prefix cache (a group split across
    calls) and transformers' generate sample the same tokens with the same log-probs (same seed, fp32)."""
    sp = SamplingParams(temperature=1.0, max_tokens=8, seed=21)
    runs = {}
    for name, own, shared, batch in [("shared", True, True, 4), ("repeated", True, False, 4),
                                     ("split", True, True, 3), ("generate", False, False, 4)]:
        engine._own_loop, engine._attn_ok, engine.batch_size = own, shared, batch
        try:
            runs[name] = [r for g in engine.generate(PROMPTS, 2, sp) for r in g.rollouts]
        finally:
            engine._own_loop, engine._attn_ok, engine.batch_size = True, True, 4
    ref = runs["shared"]
    for name, rs in runs.items():
        if name in ("split", "generate"):  # other batching / sampler: same distributions, other draws
            for g_, r in zip([p for p in PROMPTS for _ in range(2)], rs):
                lp = torch.tensor(r.sampler_logprobs)
                assert (lp - recompute(hf_model, engine.tokenizer, g_, r, 1.0)).abs().max() < 1e-5
            continue
        assert [r.response_ids for r in rs] == [r.response_ids for r in ref], name
        for a, b in zip(rs, ref):
            torch.testing.assert_close(torch.tensor(a.sampler_logprobs), torch.tensor(b.sampler_logprobs),
                                       atol=1e-5, rtol=0)
