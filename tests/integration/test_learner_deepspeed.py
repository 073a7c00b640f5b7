"""DeepSpeed learner under torchrun (gloo, CPU): ZeRO-2 / ZeRO-3 on 2 ranks with small micro-batches give the same
update as one rank with the full batch in one micro-batch; ranks agree; a NaN loss skips the step everywhere;
named_parameters_for_sync returns full shapes under ZeRO-3. Worker: learner_worker.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("learner_worker.py")
pytestmark = pytest.mark.slow


def _run(model_dir, tmp_path, stage, mbt, nproc, port) -> dict:
    out = tmp_path / f"z{stage}_{nproc}.json"
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
              "--master_port", str(port)] if nproc > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*launch, str(WORKER), str(model_dir), str(out), str(stage), str(mbt)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    # one rank, ZeRO-0, the whole 16-row batch in one micro-batch
    return _run(tiny_model_dir, tmp_path_factory.mktemp("ref"), 0, 100_000, 1, 29621)


@pytest.mark.parametrize("stage,port", [(2, 29631), (3, 29641)])
def test_two_ranks_micro_batched_equals_one_rank_full_batch(tiny_model_dir, tmp_path, reference, stage, port):
    res = _run(tiny_model_dir, tmp_path, stage, 64, 2, port)  # 64-token budget -> several micro-batches per rank
    assert res["ranks_equal"], "parameters differ between ranks"
    # the surrogate is lower after the first update when evaluated against the same old log-probs
    assert res["m2"]["loss/pg"] < res["m1"]["loss/pg"] - 1e-3
    assert res["m1"]["loss/skipped_steps"] == 0 and res["m2"]["loss/skipped_steps"] == 0
    for k in ("loss/pg", "policy/grad_norm"):
        assert res["m1"][k] == pytest.approx(reference["m1"][k], rel=1e-4, abs=1e-6), k
        assert res["m2"][k] == pytest.approx(reference["m2"][k], rel=1e-4, abs=1e-6), k
    for name, d in reference["delta_sum"].items():  # parameter updates match the full-batch one-rank update
        assert res["delta_sum"][name] == pytest.approx(d, rel=1e-3, abs=1e-4), name
        assert res["delta_abs"][name] == pytest.approx(reference["delta_abs"][name], rel=1e-3, abs=1e-4), name
    assert any(v > 0 for v in res["delta_abs"].values())
    # NaN on rank 0 only: steps skipped on every rank, weights unchanged
    assert res["m3"]["loss/skipped_steps"] == 2 and res["nan_kept"]  # both epochs of the update skipped
    assert res["shapes"] == reference["shapes"]  # full (gathered) shapes, HF names, under ZeRO-3 too
    assert res["shapes"]["model.embed_tokens.weight"][0] >= 1000
    assert res["ckpt_restored"], "load_checkpoint did not restore the saved weights"
    assert res["export_equal"], "export_hf weights differ from the learner's"
