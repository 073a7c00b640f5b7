"""Rollout engines: vLLM (colocated, data-parallel per rank) and transformers generate (CPU / debugging).

`make_engine(cfg, rank=..., world_size=...)` picks the backend by `cfg.rollout.backend`. Importing this package
never imports vLLM (only `rlvr.rollout.vllm_engine` does, lazily via the factory).
"""
from rlvr.rollout.adaptive_temperature import EntropyStats
from rlvr.rollout.base import Engine, SamplingParams, make_engine, sync_weights

__all__ = ["Engine", "EntropyStats", "SamplingParams", "make_engine", "sync_weights"]
