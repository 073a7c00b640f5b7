"""Shared fixtures: a tiny locally built Qwen2 model (built once, cached under .cache/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("RLVR_SHARED_DATA", str(SHARED_DATA))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """2-layer Qwen2 (hidden 128, head_dim 64, vocab ~1k) with a BPE tokenizer trained on the shared data."""
    from rlvr.models.tiny import build_tiny_model

    return build_tiny_model(REPO / ".cache" / "test-models" / "tiny-qwen2")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA
