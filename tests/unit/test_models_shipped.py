"""Shipped real architectures (rlvr/models/configs) and the vocabulary filler for random real-shape models."""
from __future__ import annotations

import pytest

from rlvr.models.tiny import fill_vocab, shipped_config, shipped_configs, train_tokenizer


def test_shipped_configs_are_the_real_architectures():
    assert set(shipped_configs()) >= {"qwen2.5-0.5b", "qwen2.5-math-1.5b"}
    c = shipped_config("qwen2.5-0.5b")
    assert (c["architectures"], c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"],
            c["num_attention_heads"], c["num_key_value_heads"], c["vocab_size"], c["tie_word_embeddings"],
            c["rope_theta"], c["max_position_embeddings"]) == (
        ["Qwen2ForCausalLM"], 24, 896, 4864, 14, 2, 151936, True, 1e6, 32768)
    m = shipped_config("qwen2.5-math-1.5b")
    assert (m["num_hidden_layers"], m["hidden_size"], m["num_attention_heads"], m["vocab_size"]) == (28, 1536, 12, 151936)
    assert not any(k.startswith("_") for k in c)  # the provenance note stays out of the model config
    with pytest.raises(ValueError, match="known: "):
        shipped_config("qwen9-huge")


def test_filled_tokenizer_has_the_model_vocabulary_and_encodes_as_before():
    texts = ["The answer is 42.", "Compute 3 + 4 = 7", r"\boxed{12}"] * 20
    plain = train_tokenizer(texts, 300, split_digits=True)
    filled = train_tokenizer(texts, 300, split_digits=True, fill_to=5000)
    assert len(filled) == 5000 > len(plain)
    for t in texts[:3]:  # encoding never produces a filler id
        assert filled(t)["input_ids"] == plain(t)["input_ids"]
    assert filled.decode([4999]) == "<fill_4999>"  # every id a random model samples decodes
    assert filled.eos_token_id == plain.eos_token_id and filled.pad_token_id == plain.pad_token_id
    with pytest.raises(ValueError):
        fill_vocab(filled.backend_tokenizer, 10)
