"""The DeepSpeed learner computes what components declare: old-pass LogitStats and old entropy equal a direct
computation from full logits; a training-forward grad stat (SIREN) trains; SIREN's anchor is the same on every
rank. Worker: component_stats_worker.py."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("component_stats_worker.py")
pytestmark = pytest.mark.slow


def _run(model_dir, tmp_path, nproc, port) -> list[dict]:
    out = tmp_path / f"stats_{nproc}.json"
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
              "--master_port", str(port)] if nproc > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*launch, str(WORKER), str(model_dir), str(out)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(Path(f"{out}.{r}").read_text()) for r in range(nproc)]


def test_declared_statistics_are_computed_and_used(tiny_model_dir, tmp_path):
    (res,) = _run(tiny_model_dir, tmp_path, 1, 29651)
    assert res["stats"] == ["old_entropy", "old_expected_disc", "old_logprobs", "old_proxy_logprobs"]
    for name, diff in res["diffs"].items():
        assert diff < 1e-4, (name, diff)
    m = res["metrics"]
    assert all(math.isfinite(v) for v in m.values())
    assert m["policy/lp_reg_frac"] > 0 and m["policy/masked_frac_clip_v"] > 0  # the old statistics acted
    assert m["policy/weight_steer"] != 1.0 and m["policy/siren_peak_frac"] > 0 and m["policy/grad_norm"] > 0
    assert res["anchor"] is not None


def test_siren_anchor_agrees_across_ranks(tiny_model_dir, tmp_path):
    ranks = _run(tiny_model_dir, tmp_path, 2, 29661)
    assert ranks[0]["anchor"] is not None and ranks[0]["anchor"] == ranks[1]["anchor"]
    same = [{k: v for k, v in r["metrics"].items() if not k.startswith("perf/")} for r in ranks]
    assert same[0] == same[1]  # metrics are reduced over ranks (timings aside)
    assert same[0]["policy/siren_peak_frac"] > 0
