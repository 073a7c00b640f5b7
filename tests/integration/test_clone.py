"""A clone of the repository alone (no ../shared beside it) runs the fast suite and a tiny recipe."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_a_clone_without_shared_runs_the_fast_suite_and_a_tiny_recipe(tmp_path):
    clone = tmp_path / "user" / "rlvr"  # nothing named shared/ anywhere above it
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    fast = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1500)
    assert fast.returncode == 0, fast.stdout[-4000:] + fast.stderr[-2000:]
    assert " passed" in fast.stdout.splitlines()[-1]
    subprocess.run([sys.executable, "-m", "rlvr.cli", "tiny-model", ".cache/tiny-qwen2"], cwd=clone, env=env,
                   check=True, capture_output=True, timeout=600)
    run = subprocess.run([sys.executable, "-m", "rlvr.cli", "train", "recipes/tiny/dapo.yaml", "max_steps=1",
                          "checkpoint.export_hf=false", "logging.tensorboard=false"], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    assert (clone / "runs" / "tiny-dapo" / "metrics.jsonl").read_text().count("\n") == 1
