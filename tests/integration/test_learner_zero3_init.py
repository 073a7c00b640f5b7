"""ZeRO-3 builds the learner partitioned (deepspeed.zero.Init via transformers' HfDeepSpeedConfig): the models
from_pretrained hands the Learner (policy and frozen reference) already hold no full parameter, only each of
2 ranks' half, before deepspeed.initialize sees them; ZeRO-2 gets full replicas. Gathers for weight sync and
export still give full HF shapes. Worker: zero3_init_worker.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("zero3_init_worker.py")
REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """~75M parameters (300 MB in fp32): big enough that a full copy stands out of the process's baseline."""
    from rlvr.models.tiny import build_tiny_model

    return build_tiny_model(REPO / ".cache" / "test-models" / "qwen2-75m", hidden=768, layers=8, heads=12,
                            kv_heads=2, intermediate=3072)


def _run(model_dir, tmp_path, stage: int, port: int) -> list[dict]:
    out = tmp_path / f"z{stage}"
    # PYTHONPATH: the workers import this checkout's rlvr (not another install of it)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(port), str(WORKER), str(model_dir), str(out), str(stage)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(Path(f"{out}.{r}").read_text()) for r in range(2)]


def test_zero3_is_partitioned_at_construction(model_dir, tmp_path):
    z3 = _run(model_dir, tmp_path, 3, 29711)
    z2 = _run(model_dir, tmp_path, 2, 29721)
    full_bytes = z3[0]["full_numel"] * 4  # fp32 on CPU
    assert full_bytes > 250e6
    half = z3[0]["full_numel"] / 2 + 2 * 1024  # a rank's shard, padding aside
    for r in z3:
        assert len(r["built"]) == 2  # policy + reference (the kl regularizer needs ref log-probs)
        for b in r["built"]:  # as constructed: placeholders with this rank's shard only
            assert b["held"] == 0 and b["full"] == r["full_numel"] and b["local"] <= half, b
        assert r["held_numel"] == 0 and r["local_numel"] <= half and r["ref_local_numel"] <= half
        assert r["shapes"] == z2[0]["shapes"]  # gathered for sync: full HF shapes, same as ZeRO-2
    for r in z2:
        assert [b["held"] for b in r["built"]] == [r["full_numel"]] * 2  # full replicas
    print({f"z{s}_rank{r['rank']}_peak_growth_mb": r["peak_growth"] // 2**20 for s, rs in ((3, z3), (2, z2))
           for r in rs})
    from safetensors.torch import load_file

    exported = load_file(str(tmp_path / "z3.hf" / "model.safetensors"))
    assert exported["model.embed_tokens.weight"].shape[0] == z3[0]["shapes"]["model.embed_tokens.weight"][0]
