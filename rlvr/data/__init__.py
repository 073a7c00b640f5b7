"""Prompt data: loading (JSONL / parquet / hub ids), templates, bundled benchmarks, the per-rank prompt sampler."""
from rlvr.data.load import (
    BENCHMARKS,
    TRAIN_SETS,
    DataError,
    benchmark_path,
    bundled_path,
    load_prompts,
    load_rows,
    rows_to_prompts,
)
from rlvr.data.templates import TEMPLATES, render

__all__ = ["BENCHMARKS", "DataError", "TEMPLATES", "TRAIN_SETS", "benchmark_path", "bundled_path", "load_prompts",
           "load_rows", "render", "rows_to_prompts"]
