"""Run guard: the output_dir lock, the skipped-step streak, config changes on resume (issue 10 part 3)."""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap

import pytest

from rlvr import run_guard
from rlvr.config import load_config, to_dict


def _cfg(tmp_path, *overrides):
    return load_config(None, [f"output_dir={tmp_path / 'run'}", *overrides])


def test_a_second_holder_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from rlvr.run_guard import OutputDirLock
        lock = OutputDirLock({str(tmp_path)!r})
        print("locked", flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(run_guard.RunLockedError, match=rf"in use by another run \(pid {holder.pid} on .*\.rlvr\.lock"):
            run_guard.OutputDirLock(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = run_guard.OutputDirLock(tmp_path)  # the kernel dropped the killed holder's flock
    lock.release()
    run_guard.OutputDirLock(tmp_path).release()  # and release() really releases


def test_skipped_step_streak_stops_at_the_limit_and_resets_on_an_applied_update(tmp_path):
    guard = run_guard.RunGuard(_cfg(tmp_path, "max_skipped_steps=3", "learner.mini_batches=2", "rollout.num_prompts=4"))
    all_skipped = {"loss/skipped_steps": 2.0, "loss/pg": float("nan"), "reward/total": 0.5}
    guard.after_step(1, all_skipped)
    guard.after_step(2, all_skipped)
    guard.after_step(3, {"loss/skipped_steps": 1.0})  # one of the two updates was applied: the streak restarts
    guard.after_step(4, all_skipped)
    guard.after_step(5, all_skipped)
    with pytest.raises(run_guard.SkippedStepsError, match=r"steps 4-6: every update was skipped .* at step 6: loss/pg\."):
        guard.after_step(6, all_skipped)
    guard.close()
    never = run_guard.RunGuard(_cfg(tmp_path, "max_skipped_steps=0"))
    for step in range(1, 50):
        never.after_step(step, {"loss/skipped_steps": 1.0})
    never.close()


def test_config_changes_lists_leaves_old_to_new_and_ignores_resume():
    old = to_dict(load_config(None, ["learner.lr=1e-6", "resume=never"]))
    new = to_dict(load_config(None, ["learner.lr=2e-6", "resume=auto", "rewards={math: 1.0, format: 0.1}",
                                     "rollout.stop=[x]"]))
    assert run_guard.config_changes(old, new) == [
        ("learner.lr", 1e-6, 2e-6), ("rewards.format", None, 0.1), ("rollout.stop", [], ["x"])]


def test_check_resume_warns_on_changed_keys_and_fails_on_world_size_or_zero_stage(tmp_path, caplog):
    saved = {"config": to_dict(_cfg(tmp_path, "max_steps=10")), "world_size": 1}
    path = tmp_path / "run" / "checkpoints" / "step-3"
    with caplog.at_level(logging.WARNING, logger="rlvr.run_guard"):
        run_guard.check_resume(_cfg(tmp_path, "max_steps=20", "reward.timeout_s=6", "resume=auto"), saved, path)
    assert "with a changed config (2 key(s), old -> new)" in caplog.text
    assert "max_steps: 10 -> 20" in caplog.text and "reward.timeout_s: 5.0 -> 6.0" in caplog.text
    with pytest.raises(run_guard.ResumeError, match=r"learner.zero_stage: 2 -> 3 \(DeepSpeed's checkpoint layout"):
        run_guard.check_resume(_cfg(tmp_path, "learner.zero_stage=3"), saved, path)
    with pytest.raises(run_guard.ResumeError, match=r"written by 2 rank\(s\) and this run has 1"):
        run_guard.check_resume(_cfg(tmp_path), {**saved, "world_size": 2}, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rlvr.run_guard"):
        run_guard.check_resume(_cfg(tmp_path, "max_steps=10"), saved, path)  # unchanged: silent
    assert caplog.text == ""


def test_clean_errors_report_without_traceback(capsys):
    assert run_guard.report(run_guard.LostRankError("rank 1 is gone")) == 75
    assert run_guard.report(run_guard.SkippedStepsError("steps 1-3")) == 1
    assert capsys.readouterr().err.splitlines() == ["rlvr train: error: rank 1 is gone",
                                                    "rlvr train: error: steps 1-3"]


def _guard_watching_a_dead_peer(tmp_path):
    """Rank 0's guard with a real RankWatch on a real store in which rank 1's record names a pid that has
    exited (what a SIGKILLed torchrun worker leaves)."""
    import datetime
    import json
    import socket

    import torch.distributed as dist

    from rlvr import liveness

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=datetime.timedelta(seconds=10))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.set("rank/1", json.dumps({"beat": 1, "state": "running", "why": "", "pid": dead.pid,
                                    "host": liveness._HOST, "hostname": socket.gethostname()}))
    guard = run_guard.RunGuard(_cfg(tmp_path))
    guard.watch = liveness.RankWatch(0, 2, timeout_s=2.0, store=store, interval_s=0.1).start()
    return guard, dead.pid


def _failed_save(cause: Exception):
    from rlvr.checkpoint import CheckpointError

    try:
        raise cause
    except Exception as e:
        raise CheckpointError("saving checkpoint step-2 failed on rank 0: ...") from e


def test_a_save_broken_by_a_lost_peer_names_the_peer(tmp_path):
    """DeepSpeed's save runs collectives: a peer SIGKILLed mid-save makes this rank's write fail with gloo's
    "connection reset" inside a CheckpointError. That is the lost peer's doing, and the error says so (CI saw
    the bare checkpoint error when the kill landed in a save)."""
    guard, pid = _guard_watching_a_dead_peer(tmp_path)
    with pytest.raises(run_guard.LostRankError) as info:
        try:
            _failed_save(RuntimeError("[gloo/pair.cc:537] Read error: Connection reset by peer"))
        finally:
            guard.close()
    assert str(info.value).startswith(f"rank 1 (pid {pid} on {__import__('socket').gethostname()}) is gone: "
                                      "its process exited; rank 0 stops (its own error: CheckpointError: saving")


def test_a_full_disk_is_this_ranks_own_error_even_with_a_peer_gone(tmp_path):
    import errno

    from rlvr.checkpoint import CheckpointError

    guard, _ = _guard_watching_a_dead_peer(tmp_path)
    with pytest.raises(CheckpointError):
        try:
            _failed_save(OSError(errno.ENOSPC, "No space left on device"))
        finally:
            guard.close()
