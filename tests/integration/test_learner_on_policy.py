"""With one optimizer step per rollout batch the learner skips the old-logprob pass (its own detached log-probs
are the behaviour policy's); the update must be the one the full path gives."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def test_on_policy_shortcut_gives_the_same_update(tiny_model_dir, tmp_path):
    out = tmp_path / "res.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, str(HERE / "on_policy_worker.py"), str(tiny_model_dir), str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    for k in ("loss/pg", "loss/kl", "policy/grad_norm", "policy/clipfrac_low", "policy/sampler_logprob_gap"):
        assert res["fast"][k] == pytest.approx(res["full"][k], rel=1e-5, abs=1e-7), k
    assert res["max_param_diff"] < 1e-6
