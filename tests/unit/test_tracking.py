"""Tracker: metrics.jsonl is fsync'ed per step and cut back on resume; TensorBoard/W&B/console sinks; Timer."""
from __future__ import annotations

import json
import time

import pytest
import yaml

from rlvr.config import Config, from_dict, load_config
from rlvr.metrics import Max
from rlvr.tracking import Timer, Tracker, read_metrics


def _cfg(tmp_path, **logging) -> Config:
    opts = {"tensorboard": False, "console": False, "wandb": False, **logging}
    return load_config(None, [f"output_dir={tmp_path / 'run'}", "max_steps=5"] + [f"logging.{k}={str(v).lower()}"
                                                                                    for k, v in opts.items()])


def test_log_appends_one_json_row_per_step(tmp_path):
    cfg = _cfg(tmp_path)
    with Tracker(cfg, rank=0) as t:
        t.log(1, {"reward/acc": 0.5, "loss/pg": 1})
        t.log(2, {"reward/acc": 0.75, "loss/pg": float("nan")})
        # readable while the run is live: each line is flushed and fsync'ed when logged
        assert [r["step"] for r in read_metrics(cfg.output_dir)] == [1, 2]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"step": 1, "reward/acc": 0.5, "loss/pg": 1.0},
                                              {"step": 2, "reward/acc": 0.75, "loss/pg": None}]  # NaN -> null


def test_tensor_metrics_become_floats_and_bad_values_name_the_key(tmp_path):
    import torch

    with Tracker(_cfg(tmp_path)) as t:
        t.log(1, {"policy/entropy": torch.tensor(0.25)})
        with pytest.raises(TypeError, match="policy/oops"):
            t.log(2, {"policy/oops": "high"})
    assert read_metrics(tmp_path / "run") == [{"step": 1, "policy/entropy": 0.25}]


def test_other_ranks_write_nothing(tmp_path):
    cfg = _cfg(tmp_path)
    t = Tracker(cfg, rank=1)
    t.write_config(cfg)
    t.log(1, {"reward/acc": 1.0})
    t.close()
    assert not (tmp_path / "run").exists()


def test_resume_cuts_steps_after_the_checkpoint_and_a_torn_line(tmp_path):
    cfg = _cfg(tmp_path)
    with Tracker(cfg) as t:
        for s in (1, 2, 3):
            t.log(s, {"reward/acc": s / 10})
    path = tmp_path / "run" / "metrics.jsonl"
    with open(path, "a") as f:  # what a SIGKILL in the middle of writing step 4 leaves
        f.write('{"step": 4, "reward/ac')
    # the relaunch resumes from the step-2 checkpoint: steps 3 and the torn 4 must go, then 3, 4 are re-logged
    with Tracker(cfg) as t:
        t.resume(2)
        assert [r["step"] for r in read_metrics(cfg.output_dir)] == [1, 2]
        t.log(3, {"reward/acc": 0.33})
        t.log(4, {"reward/acc": 0.44})
    assert [(r["step"], r["reward/acc"]) for r in read_metrics(cfg.output_dir)] == [
        (1, 0.1), (2, 0.2), (3, 0.33), (4, 0.44)]


def test_fresh_run_in_a_used_directory_starts_a_clean_file(tmp_path):
    cfg = _cfg(tmp_path)
    with Tracker(cfg) as t:
        t.log(1, {"a/x": 1.0})
        t.log(2, {"a/x": 2.0})
    with Tracker(cfg) as t:  # resume=never (or auto with no checkpoint): step 1 again
        t.log(1, {"a/x": 10.0})
    assert read_metrics(cfg.output_dir) == [{"step": 1, "a/x": 10.0}]


def test_write_config_round_trips_through_the_schema(tmp_path):
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", "algorithm.preset=dapo", "learner.lr=2e-6",
                             "logging.tensorboard=false", "logging.console=false"])
    path = Tracker(cfg).write_config(cfg)
    again = from_dict(Config, yaml.safe_load(path.read_text()))
    assert again == cfg
    assert again.algorithm.ppo_clip.eps_high == 0.28 and again.learner.lr == 2e-6


def test_tensorboard_event_file_holds_the_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = _cfg(tmp_path, tensorboard=True)
    with Tracker(cfg) as t:
        t.log(1, {"reward/total": 0.5})
        t.log(2, {"reward/total": 0.75})
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("reward/total")] == [(1, 0.5), (2, 0.75)]


def test_console_prints_the_key_metrics_line(tmp_path, capsys):
    cfg = _cfg(tmp_path, console=True)
    with Tracker(cfg) as t:
        t.log(1, {"reward/acc": 0.25, "reward/total": 0.5, "policy/entropy": 1.5,
                  "rollout/response_len_mean": 123.0, "perf/step_s": 2.0, "loss/pg": 9.0})
    err = capsys.readouterr().err
    assert "step     1  acc 0.250  reward 0.500  entropy 1.500  len 123  step_s 2.000" in err
    assert "loss/pg" not in err  # the compact line shows only the key metrics; everything is in metrics.jsonl


def test_wandb_offline_writes_a_local_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = _cfg(tmp_path, wandb=True, wandb_mode="offline")
    with Tracker(cfg) as t:
        t.log(1, {"reward/acc": 0.5})
    run_id = (tmp_path / "run" / "wandb_id").read_text().strip()
    assert list((tmp_path / "run" / "wandb").glob(f"offline-run-*-{run_id}"))


def test_timer_adds_up_repeated_phases():
    timer = Timer()
    for _ in range(2):  # e.g. two DAPO generation batches in one step
        with timer("rollout"):
            time.sleep(0.02)
    with timer("update"):
        pass
    m = timer.metrics()
    assert {k for k in m if k.endswith("_s")} == {"perf/rollout_s", "perf/update_s"}
    assert 0.04 <= m["perf/rollout_s"] < 1.0 and 0 <= m["perf/update_s"] < 0.02


def test_timer_records_each_phase_peak_memory():
    import torch

    timer = Timer()
    with timer("small"):
        pass
    with timer("big"):
        x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched, then freed inside the phase
        time.sleep(0.1)  # the sampler thread runs every 20 ms
        del x
    m = timer.metrics()
    assert isinstance(m["perf/big_rss_peak_gb"], Max)  # the largest rank wins when combined
    assert m["perf/big_anon_peak_gb"] - m["perf/small_anon_peak_gb"] > 0.05
    assert m["perf/big_rss_peak_gb"] >= m["perf/big_anon_peak_gb"]
