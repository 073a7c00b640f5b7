"""On one CUDA GPU (skipped elsewhere): the paths scripts/gpu_smoke.sh exercises, on the tiny model.

* the DeepSpeed learner in bf16 over NCCL (ZeRO-2 and ZeRO-3, sdpa), one update: finite loss, weights moved,
  the per-phase CUDA peak recorded by the trainer's Timer;
* the HF rollout engine on the GPU, then a weight sync from the learner into it;
* the smoke script itself end to end (`--model tiny --steps 2`), ending in its summary line.

    python -m pytest -m gpu tests/integration/test_gpu.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

WORKER = r'''
import json, sys, torch
from rlvr.config import load_config
from rlvr.learner import Learner
from rlvr.rollout import make_engine
from rlvr.rollout.base import SamplingParams
from rlvr.tracking import Timer
from rlvr.types import Prompt
sys.path.insert(0, sys.argv[3])
from learner_worker import hand_batch

model, stage, _, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
cfg = load_config(None, [f"model.path={model}", f"learner.zero_stage={stage}", "model.dtype=bf16",
                         "model.attn_implementation=sdpa", "learner.packing=true", "learner.lr=1e-3",
                         "rollout.backend=hf", "rollout.max_tokens=16"])
learner = Learner(cfg)
assert learner.device.type == "cuda" and torch.distributed.get_backend() == "nccl"
groups, adv = hand_batch()
batch = learner.compute_old(learner.make_batch(groups))
import dataclasses
batch = dataclasses.replace(batch, advantages=adv.reshape(-1))
before = {n: t.float().cpu().clone() for b in learner.named_parameters_for_sync(64) for n, t in b}
timer = Timer()
with timer("update"):
    m = learner.update(batch)
after = {n: t.float().cpu().clone() for b in learner.named_parameters_for_sync(64) for n, t in b}
engine = make_engine(cfg, model)
tok = engine.tokenizer
prompts = [Prompt(f"p{i}", "What is 1+1?", "2", prompt_ids=tok("What is 1+1?")["input_ids"]) for i in range(2)]
with timer("rollout"):
    g1 = engine.generate(prompts, 2, SamplingParams(temperature=1.0, max_tokens=16, seed=0))
with timer("weight_sync"):
    learner.sync_weights(engine)
eng = dict(engine.model.named_parameters())
synced = all(torch.equal(eng[n].float().cpu(), t.to(eng[n].dtype).float()) for n, t in after.items() if n in eng)
json.dump({"loss": m["loss/pg"], "skipped": m["loss/skipped_steps"], "tokens_per_s": m["perf/learner_tokens_per_s"],
           "moved": sum(float((after[n] - before[n]).abs().sum()) for n in before),
           "timer": {k: float(v) for k, v in timer.metrics().items()}, "groups": len(g1),
           "lengths": [len(r.response_ids) for g in g1 for r in g.rollouts], "synced": synced,
           "sync_bytes": learner.last_sync_bytes}, open(out, "w"))
'''


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "TOKENIZERS_PARALLELISM": "false"}


@pytest.mark.parametrize("stage", [2, 3])
def test_learner_bf16_nccl_update_rollout_and_sync(stage, tiny_model_dir, tmp_path):
    script, out = tmp_path / "w.py", tmp_path / "out.json"
    script.write_text(WORKER)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1",
                           "--master_port", str(29950 + stage), str(script), str(tiny_model_dir), str(stage),
                           str(REPO / "tests" / "integration"), str(out)],
                          capture_output=True, text=True, timeout=600, env=_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["skipped"] == 0 and res["loss"] == res["loss"] and res["moved"] > 0
    assert res["tokens_per_s"] > 0
    for phase in ("update", "rollout", "weight_sync"):
        assert res["timer"][f"perf/{phase}_gpu_peak_gb"] > 0
    assert res["groups"] == 2 and all(0 < n <= 16 for n in res["lengths"])
    assert res["synced"], "the HF engine does not hold the learner's weights after sync"
    assert res["sync_bytes"] > 0


def test_gpu_smoke_script_tiny(tmp_path):
    out = tmp_path / "smoke"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_smoke.sh"), "--model", "tiny", "--steps", "2",
                           "--engine", "hf", "--out", str(out), "--python", sys.executable],
                          capture_output=True, text=True, timeout=900, env=_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "smoke_ok=1" in proc.stdout
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["perf/update_gpu_peak_gb"] > 0 and r["perf/learner_tokens_per_s"] > 0 for r in rows)
