"""Files from elsewhere never run code: no remote code by default, no pickled code in checkpoints or weights."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from rlvr.checkpoint import CheckpointError
from rlvr.config import Config


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling runs `touch marker`
        return (os.system, (f"touch {self.marker}",))


def _hf_cfg(path) -> Config:
    cfg = Config()
    cfg.model.path, cfg.rollout.backend = str(path), "hf"
    return cfg


def test_a_model_dir_with_custom_code_is_refused_by_default(tiny_model_dir, tmp_path):
    from rlvr.rollout import make_engine

    marker = tmp_path / "PWNED"
    model = tmp_path / "remote"
    shutil.copytree(tiny_model_dir, model)
    (model / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                   "from transformers import Qwen2Config\nclass EvilConfig(Qwen2Config):\n"
                                   "    model_type = 'evil'\n")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "evil",
                                                   "auto_map": {"AutoConfig": "evil.EvilConfig"}}))
    assert Config().model.trust_remote_code is False
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        make_engine(_hf_cfg(model))
    assert not marker.exists()


def test_pickled_weights_load_weights_only(tiny_model_dir, tmp_path):
    """A model dir whose weights are a malicious pytorch_model.bin (no safetensors): refused, nothing runs."""
    from rlvr.rollout import make_engine

    marker = tmp_path / "PWNED"
    model = tmp_path / "bin"
    shutil.copytree(tiny_model_dir, model)
    (model / "model.safetensors").unlink()
    torch.save({"model.embed_tokens.weight": _Exploit(marker)}, model / "pytorch_model.bin")
    with pytest.raises(Exception, match="(?i)weights only load failed"):
        make_engine(_hf_cfg(model))
    assert not marker.exists()


def test_deepspeed_checkpoint_files_load_weights_only(tmp_path):
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine
    from deepspeed.runtime.fp16.loss_scaler import LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum

    from rlvr.learner.deepspeed_learner import _WeightsOnlyLoads

    engine = _WeightsOnlyLoads(_WeightsOnlyLoads(TorchCheckpointEngine()))  # wrapping twice is one wrapper
    assert isinstance(engine._inner, TorchCheckpointEngine)
    good = tmp_path / "zero_pp_rank_0_mp_rank_00_optim_states.pt"
    torch.save({"loss_scaler": LossScaler(1.0), "zero_stage": ZeroStageEnum.gradients, "fp32": torch.ones(3)}, good)
    state = engine.load(str(good), map_location="cpu")  # what DeepSpeed's own ZeRO files hold loads
    assert isinstance(state["loss_scaler"], LossScaler) and state["zero_stage"] == ZeroStageEnum.gradients
    marker = tmp_path / "PWNED"
    bad = tmp_path / "mp_rank_00_model_states.pt"
    torch.save({"module": _Exploit(marker)}, bad)
    with pytest.raises(CheckpointError, match=rf"{bad}: cannot be loaded as tensors and DeepSpeed state "
                                              r"\(UnpicklingError: .*GLOBAL posix.system"):
        engine.load(str(bad))
    assert not marker.exists()
