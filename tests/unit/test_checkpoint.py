"""Atomic checkpoints: commit by rename, `latest` pointer, pruning, killed saves, multi-rank shape, resume, RNG."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rlvr import checkpoint
from rlvr.config import load_config


def _writer(payload: str):
    def write(tmp: Path) -> None:
        (tmp / "model.bin").write_text(payload)
        (tmp / "hf").mkdir()
        (tmp / "hf" / "config.json").write_text("{}")

    return write


def test_save_commits_by_rename_and_moves_the_pointer(tmp_path):
    path = checkpoint.save(tmp_path, 3, _writer("w3"))
    root = tmp_path / "checkpoints"
    assert path == root / "step-3" and (path / "model.bin").read_text() == "w3" and (path / "hf" / "config.json").exists()
    assert (root / "latest").read_text().strip() == "step-3"
    assert checkpoint.latest(tmp_path) == path
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-3"]  # no tmp dirs left behind


def test_keep_last_prunes_oldest_complete_checkpoints(tmp_path):
    for step in (1, 2, 3, 4):
        checkpoint.save(tmp_path, step, _writer(f"w{step}"), keep_last=2)
    assert [p.name for p in checkpoint.complete_checkpoints(tmp_path)] == ["step-3", "step-4"]
    assert checkpoint.latest(tmp_path).name == "step-4"
    for step in (5, 6):  # keep_last=0 keeps everything
        checkpoint.save(tmp_path, step, _writer("w"), keep_last=0)
    assert [checkpoint.step_of(p) for p in checkpoint.complete_checkpoints(tmp_path)] == [3, 4, 5, 6]


def test_failed_write_leaves_previous_checkpoint_as_latest_and_next_save_cleans_up(tmp_path):
    checkpoint.save(tmp_path, 1, _writer("w1"))

    def crash(tmp: Path) -> None:
        (tmp / "model.bin").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(checkpoint.CheckpointError, match="step-2 failed on rank 0: RuntimeError: disk full"):
        checkpoint.save(tmp_path, 2, crash)
    root = tmp_path / "checkpoints"
    assert not (root / ".tmp-step-2").exists() and not (root / "step-2").exists()  # the failed save cleans up
    assert checkpoint.latest(tmp_path).name == "step-1"
    (root / ".tmp-step-3").mkdir()  # what a SIGKILL mid-save leaves: the next save removes it
    checkpoint.save(tmp_path, 3, _writer("w3"))
    assert not list(root.glob(".tmp-*"))
    assert checkpoint.latest(tmp_path).name == "step-3"


def test_sigkill_during_save_keeps_latest_complete(tmp_path):
    """A real process killed (SIGKILL) while writing step 2: step 1 stays the latest, step-2 never appears."""
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from rlvr import checkpoint
        checkpoint.save({str(tmp_path)!r}, 1, lambda d: (d / "w").write_text("one"))
        def die(d):
            (d / "w").write_text("tw")
            os.kill(os.getpid(), signal.SIGKILL)
        checkpoint.save({str(tmp_path)!r}, 2, die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert checkpoint.latest(tmp_path).name == "step-1"
    assert (checkpoint.latest(tmp_path) / "w").read_text() == "one"
    assert checkpoint.clean_tmp(tmp_path) == [tmp_path / "checkpoints" / ".tmp-step-2"]


def test_recommit_of_a_step_replaces_an_orphan_from_a_killed_run(tmp_path):
    """Killed after renaming step-2 but before moving `latest`: the run resumes from step 1 and saves step 2 again."""
    checkpoint.save(tmp_path, 1, _writer("w1"))
    checkpoint.save(tmp_path, 2, _writer("old"))
    checkpoint._write_pointer(tmp_path / "checkpoints", "step-1")  # the pointer as the kill left it
    checkpoint.save(tmp_path, 2, _writer("new"))
    assert (checkpoint.latest(tmp_path) / "model.bin").read_text() == "new"


def test_latest_without_pointer_falls_back_to_highest_complete_step(tmp_path):
    assert checkpoint.latest(tmp_path) is None
    for step in (2, 10):
        checkpoint.save(tmp_path, step, _writer("w"), keep_last=0)
    (tmp_path / "checkpoints" / "latest").unlink()
    (tmp_path / "checkpoints" / ".tmp-step-11").mkdir()  # incomplete: never a candidate
    assert checkpoint.latest(tmp_path).name == "step-10"  # numeric, not lexicographic order


def test_multi_rank_collective_shape(tmp_path):
    """Two ranks (threads with a real barrier) write their shards into one tmp dir; rank 0 commits."""
    world = 2
    bar = threading.Barrier(world, timeout=30)
    seen_tmp: dict[int, bool] = {}
    results: dict[int, Path] = {}
    errors: list[BaseException] = []

    def rank_main(rank: int) -> None:
        def write(tmp: Path) -> None:
            seen_tmp[rank] = tmp.is_dir()  # rank 0 created it before the first barrier
            (tmp / f"shard_rank{rank}.pt").write_text(str(rank))
            bar.wait()  # hold both ranks inside write_fn: nothing may be committed yet
            assert not (tmp_path / "checkpoints" / "step-5").exists()

        try:
            results[rank] = checkpoint.save(tmp_path, 5, write, barrier=bar.wait, rank=rank)
            # after save returns (final barrier) every rank sees the committed checkpoint
            assert checkpoint.latest(tmp_path) == results[rank]
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)
            bar.abort()

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert seen_tmp == {0: True, 1: True}
    final = tmp_path / "checkpoints" / "step-5"
    assert results == {0: final, 1: final}
    assert sorted(p.name for p in final.iterdir()) == ["manifest.json", "shard_rank0.pt", "shard_rank1.pt"]


def _cfg(tmp_path, resume: str):
    return load_config(None, [f"output_dir={tmp_path / 'run'}", f"resume={resume}"])


def test_resolve_resume_modes(tmp_path):
    run = tmp_path / "run"
    assert checkpoint.resolve_resume(_cfg(tmp_path, "never")) is None
    assert checkpoint.resolve_resume(_cfg(tmp_path, "auto")) is None  # nothing saved yet: fresh start
    checkpoint.save(run, 1, _writer("a"))
    second = checkpoint.save(run, 2, _writer("b"))
    assert checkpoint.resolve_resume(_cfg(tmp_path, "never")) is None
    assert checkpoint.resolve_resume(_cfg(tmp_path, "auto")) == second
    first = run / "checkpoints" / "step-1"
    assert checkpoint.resolve_resume(_cfg(tmp_path, str(first))) == first  # an explicit checkpoint
    assert checkpoint.resolve_resume(_cfg(tmp_path, str(run))) == second  # a run directory -> its latest
    with pytest.raises(FileNotFoundError, match="step-9"):
        checkpoint.resolve_resume(_cfg(tmp_path, str(run / "checkpoints" / "step-9")))
    (run / "checkpoints" / ".tmp-step-3").mkdir()
    with pytest.raises(ValueError, match="incomplete"):
        checkpoint.resolve_resume(_cfg(tmp_path, str(run / "checkpoints" / ".tmp-step-3")))


def test_rng_state_round_trips_through_torch_save(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    state = checkpoint.rng_state()
    path = checkpoint.save_trainer_state(tmp_path, {"step": 7, "sampler": {"epoch": 1, "pos": 12}, "rng": state})
    want = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(99), np.random.seed(99), torch.manual_seed(99)  # disturb every generator
    loaded = checkpoint.load_trainer_state(tmp_path)
    assert path.name == "trainer_state_rank0.pt" and loaded["step"] == 7 and loaded["sampler"]["pos"] == 12
    checkpoint.set_rng_state(loaded["rng"])
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert got[0] == want[0] and got[1] == want[1] and torch.equal(got[2], want[2])
    with pytest.raises(FileNotFoundError, match="world size"):
        checkpoint.load_trainer_state(tmp_path, rank=1)


def test_pointer_write_is_atomic_replace(tmp_path):
    root = tmp_path / "checkpoints"
    root.mkdir()
    checkpoint._write_pointer(root, "step-1")
    ino = os.stat(root / "latest").st_ino
    checkpoint._write_pointer(root, "step-2")
    # replaced by rename (a new inode), never rewritten in place where a reader could see a partial name
    assert os.stat(root / "latest").st_ino != ino and (root / "latest").read_text() == "step-2\n"
    assert sorted(p.name for p in root.iterdir()) == ["latest"]


# ------------------------------------------------------------------------ manifests, damage, untrusted files


def _three_checkpoints(tmp_path, checksum=True):
    for step in (1, 2, 3):
        checkpoint.save(tmp_path, step, _writer(f"weights of step {step}"), keep_last=0, checksum=checksum)
    return tmp_path / "checkpoints"


def test_manifest_catches_truncation_corruption_and_missing_files(tmp_path):
    root = _three_checkpoints(tmp_path)
    manifest = (root / "step-3" / "manifest.json").read_text()
    assert '"model.bin"' in manifest and '"hf/config.json"' in manifest and "sha256" in manifest
    assert checkpoint.verify(root / "step-3") == []
    (root / "step-3" / "model.bin").write_text("weights of step")  # truncated copy
    (root / "step-2" / "model.bin").write_text("weights of step 9")  # same size, one byte flipped
    (root / "step-1" / "hf" / "config.json").unlink()
    assert checkpoint.verify(root / "step-3") == [f"{root}/step-3/model.bin: 15 bytes, the manifest records 17 (truncated?)"]
    assert checkpoint.verify(root / "step-2") == [f"{root}/step-2/model.bin: sha256 differs from the manifest (corrupted)"]
    assert checkpoint.verify(root / "step-2", checksum=False) == []  # sizes only cannot see a flipped byte
    assert checkpoint.verify(root / "step-1") == [f"{root}/step-1/hf/config.json: missing"]


def test_auto_resume_falls_back_to_the_newest_intact_checkpoint_naming_the_damaged_file(tmp_path, caplog):
    root = _three_checkpoints(tmp_path / "run")
    with open(root / "step-3" / "model.bin", "r+b") as f:
        f.truncate(4)
    with caplog.at_level("WARNING", logger="rlvr.checkpoint"):
        assert checkpoint.resolve_resume(_cfg(tmp_path, "auto")) == root / "step-2"
    assert f"step-3: {root}/step-3/model.bin: 4 bytes, the manifest records 17" in caplog.text
    assert f"resuming from {root}/step-2 instead" in caplog.text
    assert checkpoint.resolve_resume(_cfg(tmp_path, str(tmp_path / "run"))) == root / "step-2"  # a run dir: same
    with pytest.raises(checkpoint.CheckpointError, match=r"step-3 is damaged:\n  .*step-3/model.bin: 4 bytes"):
        checkpoint.resolve_resume(_cfg(tmp_path, str(root / "step-3")))  # named explicitly: fail, never swap it
    for step in (1, 2):
        (root / f"step-{step}" / "model.bin").write_text("x")
    with pytest.raises(checkpoint.CheckpointError, match=r"no intact checkpoint under .*\n  step-3: .*\n  step-2: .*\n  step-1"):
        checkpoint.resolve_resume(_cfg(tmp_path, "auto"))


def test_a_failed_write_names_a_full_disk(tmp_path):
    import errno

    checkpoint.save(tmp_path, 1, _writer("w1"))

    def enospc(tmp: Path) -> None:
        (tmp / "model.bin").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.save(tmp_path, 2, enospc)
    msg = str(info.value)
    assert "saving checkpoint step-2 failed on rank 0: OSError: [Errno 28] No space left on device" in msg
    assert "MiB free of" in msg and "-- the disk is full" in msg and "complete checkpoints are untouched (latest: step-1)" in msg
    assert checkpoint.verify(checkpoint.latest(tmp_path)) == []


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what a malicious checkpoint does when unpickled
        return (os.system, (f"touch {self.marker}",))


def test_trainer_state_never_unpickles_code_and_names_a_damaged_file(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"step": 1, "rng": _Exploit(marker)}, tmp_path / "trainer_state_rank0.pt")
    with pytest.raises(checkpoint.CheckpointError, match=r"trainer_state_rank0.pt: cannot be loaded as tensors and "
                                                         r"primitives \(UnpicklingError: .*GLOBAL posix.system whose module posix is blocked"):
        checkpoint.load_trainer_state(tmp_path)
    assert not marker.exists()
    checkpoint.save_trainer_state(tmp_path, {"step": 2, "rng": checkpoint.rng_state()})
    data = (tmp_path / "trainer_state_rank0.pt").read_bytes()
    (tmp_path / "trainer_state_rank0.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="trainer_state_rank0.pt: cannot be loaded .* damaged"):
        checkpoint.load_trainer_state(tmp_path)


def test_kill_in_save_hook_fires_only_at_its_step_and_rank(tmp_path, monkeypatch):
    killed = []
    monkeypatch.setattr(checkpoint.os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setenv("RLVR_FAULT_INJECT", "kill_in_save:2:1")
    checkpoint.save_trainer_state(tmp_path, {"step": 2}, rank=0)
    checkpoint.save_trainer_state(tmp_path, {"step": 1}, rank=1)
    assert killed == []
    checkpoint.save_trainer_state(tmp_path, {"step": 2}, rank=1)
    assert killed == [signal.SIGKILL]
