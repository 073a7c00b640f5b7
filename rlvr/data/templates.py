"""Prompt templates (a registry): `render(name, problem, tokenizer) -> str`, the exact text fed to the engine.

* qwen_math: Qwen2.5-Math's CoT evaluation prompt (QwenLM/Qwen2.5-Math evaluation/utils.py, "qwen25-math-cot").
* r1: DeepSeek-R1-Zero's training template (DeepSeek-AI 2025, Table 1), as used by Understand-R1-Zero / SimpleRL.
* plain: no chat markup, for base models (Understand-R1-Zero's "no template" comparison uses this CoT cue).
* chat: the tokenizer's own chat template with one user turn.
"""
from __future__ import annotations

from typing import Any, Callable

from rlvr.registry import Registry

TEMPLATES: Registry[Callable[[str, Any], str]] = Registry("template")

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
R1_PREFIX = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
    "The Assistant first thinks about the reasoning process in the mind and then provides the User with the "
    "answer. The reasoning process is enclosed within <think> </think> and answer is enclosed within "
    "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>.\nUser: "
)


@TEMPLATES.register("qwen_math")
def qwen_math(problem: str, tokenizer: Any = None) -> str:
    return (
        f"<|im_start|>system\n{QWEN_MATH_SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{problem}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@TEMPLATES.register("r1")
def r1(problem: str, tokenizer: Any = None) -> str:
    # The prompt ends inside the think block so the very first sampled token is reasoning.
    return f"{R1_PREFIX}{problem}\nAssistant: <think>"


@TEMPLATES.register("plain")
def plain(problem: str, tokenizer: Any = None) -> str:
    return f"Question: {problem}\nAnswer: Let's think step by step."


@TEMPLATES.register("chat")
def chat(problem: str, tokenizer: Any = None) -> str:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError("template 'chat' needs a tokenizer with a chat_template; use qwen_math, r1 or plain")
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True
    )


def render(template: str, problem: str, tokenizer: Any = None) -> str:
    """The prompt text for `problem` under the named template (unknown names list the known ones)."""
    return TEMPLATES.get(template)(problem, tokenizer)
