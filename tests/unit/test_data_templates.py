"""Prompt templates render exactly the published prompt strings."""
from __future__ import annotations

import pytest

from rlvr.data import TEMPLATES, render


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_registry_names():
    assert TEMPLATES.names() == ["chat", "plain", "qwen_math", "r1"]
    with pytest.raises(KeyError, match="unknown template 'qwen-math'. Did you mean 'qwen_math'"):
        render("qwen-math", "1+1?")


def test_qwen_math_is_the_qwen25_math_cot_prompt():
    assert render("qwen_math", "What is 1+1?") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_r1_prompt_opens_the_think_block():
    text = render("r1", "What is 1+1?")
    assert text.startswith("A conversation between User and Assistant. The User asks a question, and the Assistant solves it.")
    assert "<think> reasoning process here </think> <answer> answer here </answer>" in text
    assert text.endswith("\nUser: What is 1+1?\nAssistant: <think>")


def test_plain():
    assert render("plain", "What is 1+1?") == "Question: What is 1+1?\nAnswer: Let's think step by step."


def test_chat_uses_the_tokenizer_template(tiny_tokenizer):
    # the tiny tokenizer's template is ChatML (rlvr/models/tiny.py CHAT_TEMPLATE)
    assert render("chat", "What is 1+1?", tiny_tokenizer) == "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(ValueError, match="needs a tokenizer with a chat_template"):
        render("chat", "What is 1+1?", None)


def test_special_tokens_tokenize_as_single_ids(tiny_tokenizer):
    # the engine sees prompt_ids; <|im_start|> / <|im_end|> in the text must map to their special ids
    ids = tiny_tokenizer(render("qwen_math", "1+1"), add_special_tokens=True)["input_ids"]
    im_start = tiny_tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[0] == im_start and ids.count(im_start) == 3
