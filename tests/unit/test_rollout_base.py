"""Engine-independent rollout pieces: SamplingParams validation, per-prompt seeds, lazy vLLM import."""
import subprocess
import sys

import pytest
import torch

from rlvr.rollout import SamplingParams
from rlvr.dtypes import resolve_dtype
from rlvr.rollout.base import prompt_seed


def test_sampling_params_validation():
    assert SamplingParams().temperature == 1.0 and SamplingParams().top_k == -1
    for bad, key in [(dict(temperature=-1), "temperature"), (dict(top_p=0.0), "top_p"), (dict(top_k=0), "top_k"),
                     (dict(max_tokens=0), "max_tokens")]:
        with pytest.raises(ValueError, match=key):
            SamplingParams(**bad)


def test_prompt_seed_is_stable_and_decorrelated():
    assert prompt_seed(None, 3, 8) is None
    seeds = [prompt_seed(7, i, 8) for i in range(100)]
    assert seeds == [prompt_seed(7, i, 8) for i in range(100)]  # stable (no Python hash randomization)
    assert len(set(seeds)) == 100 and all(0 <= s < 2**31 - 1 - 8 for s in seeds)
    # vLLM seeds sample k of a prompt with seed + k: neighbouring prompts must not share those seeds
    assert abs(prompt_seed(7, 0, 8) - prompt_seed(7, 1, 8)) > 8


def test_resolve_dtype_one_table_for_learner_and_engines():
    assert resolve_dtype("auto", "cpu") is torch.float32 and resolve_dtype("auto", "cuda:0") is torch.bfloat16
    assert resolve_dtype("bf16", "cpu") is resolve_dtype("bfloat16", "cpu") is torch.bfloat16  # was HF-engine only
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", "cpu")
    from rlvr.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="rollout.dtype"):  # the config accepts the same names, at load
        load_config(overrides=["rollout.dtype=fp8"])
    assert load_config(overrides=["model.dtype=bf16"]).model.dtype == "bf16"


def test_import_rollout_does_not_import_vllm():
    code = "import sys, rlvr.rollout, rlvr.rollout.hf_engine; assert 'vllm' not in sys.modules, 'vllm imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
