"""Every fault ends cleanly: the run's guard, one line at each call site of the training loop.

    guard = RunGuard(cfg)            # first: lock output_dir (a second run into it refuses, naming the first)
    guard.start(rank, world)         # once torch.distributed is up: the rank liveness watch (rlvr/liveness.py)
    guard.after_step(step, metrics)  # stop after max_skipped_steps steps in a row with every update skipped
    guard.close()                    # in `finally`, last: an error caused by a lost rank names that rank

On resume: resume_path (rank 0 picks the newest intact checkpoint, every rank uses the same one),
resume_facts (what trainer state records about the run) and check_resume (changed config keys warn, keys that
make resuming impossible fail before anything loads). Expected faults raise FaultError / CheckpointError,
whose message says what happened and what to do; `rlvr train` prints it without a traceback (report()).
"""
from __future__ import annotations

import datetime
import fcntl
import json
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any, Optional

from rlvr import checkpoint
from rlvr.config import Config, to_dict
from rlvr.liveness import EXIT_LOST_RANK, RankWatch

log = logging.getLogger("rlvr.run_guard")

LOCK_FILE = ".rlvr.lock"
# Keys whose change makes a checkpoint unloadable: fail before loading rather than deep inside DeepSpeed.
FATAL_KEYS = {"learner.zero_stage": "DeepSpeed's checkpoint layout differs between ZeRO stages"}
IGNORED_KEYS = {"resume"}  # differs between the first run and its resumption by design


class FaultError(RuntimeError):
    """An expected fault, raised the same way on every rank; the message is the whole story."""

    exit_code = 1


class RunLockedError(FaultError):
    pass


class SkippedStepsError(FaultError):
    pass


class ResumeError(FaultError):
    pass


class LostRankError(FaultError):
    exit_code = EXIT_LOST_RANK


CLEAN_ERRORS = (FaultError, checkpoint.CheckpointError)


def report(e: BaseException) -> int:
    """Print an expected fault for the user (no traceback) and return the process exit code."""
    print(f"rlvr train: error: {e}", file=sys.stderr, flush=True)
    return getattr(e, "exit_code", 1)


class RunGuard:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.lock = OutputDirLock(cfg.output_dir) if int(os.environ.get("RANK", "0")) == 0 else None
        self.watch: Optional[RankWatch] = None
        self.rank, self._streak = 0, 0

    def start(self, rank: int, world: int) -> None:
        self.rank = rank
        if world > 1 and self.cfg.learner.heartbeat_timeout_s > 0:
            try:
                self.watch = RankWatch(rank, world, self.cfg.learner.heartbeat_timeout_s).start()
            except Exception as e:  # noqa: BLE001 - no reachable store: collective timeouts still bound hangs
                log.warning("rank liveness watch off (cannot reach the job's store: %s: %s); a lost rank ends "
                            "the job after learner.collective_timeout_s", type(e).__name__, e)

    def after_step(self, step: int, metrics: dict[str, float]) -> None:
        """Count steps whose every optimizer step was skipped (the learner skips non-finite losses/gradients);
        `metrics` are the rank-merged ones, so every rank stops at the same step."""
        limit = self.cfg.max_skipped_steps
        updates = self.cfg.learner.mini_batches * self.cfg.learner.epochs
        self._streak = self._streak + 1 if metrics.get("loss/skipped_steps", 0.0) >= updates else 0
        if limit and self._streak >= limit:
            bad = sorted(k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v))
            raise SkippedStepsError(
                f"steps {step - self._streak + 1}-{step}: every update was skipped ({self._streak} steps in a "
                f"row, max_skipped_steps={limit}) because the loss or gradient was not finite; non-finite metrics "
                f"at step {step}: {', '.join(bad) or 'none'}. The weights did not change in these steps and the "
                "last checkpoint is intact. Check the rewards (reward/* in metrics.jsonl) and learner.lr, or "
                "raise max_skipped_steps (0 = never stop).")

    def close(self) -> None:
        """Call last in the loop's `finally`. With an exception in flight that is not an expected fault (e.g. a
        collective failing because a peer died), ask the liveness watch which rank is lost and raise that."""
        exc = sys.exc_info()[1]
        try:
            if self.watch is None:
                return
            if exc is None:
                self.watch.close("done")
            elif isinstance(exc, CLEAN_ERRORS) and not _collective_inside(exc):
                self.watch.close("failed", f"{type(exc).__name__}: {str(exc)[:200]}")
            else:
                verdict = self.watch.explain(exc)
                self.watch.close("failed")
                if verdict:
                    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                    raise LostRankError(f"{verdict}; rank {self.rank} stops "
                                        f"(its own error: {type(exc).__name__}: {first})") from exc
        finally:
            if self.lock is not None:
                self.lock.release()


def _collective_inside(exc: BaseException) -> bool:
    """A checkpoint write that failed on something other than the filesystem (DeepSpeed's save runs
    collectives: gloo's "connection reset by peer" when a peer died mid-save) may be the echo of a lost rank,
    so the liveness watch is asked, as for any other error; a disk-full or I/O error is this rank's own."""
    if not isinstance(exc, checkpoint.CheckpointError) or exc.__cause__ is None:
        return False
    return not isinstance(exc.__cause__, OSError)


# -------------------------------------------------------------------------------------------- output_dir


class OutputDirLock:
    """An exclusive flock on output_dir/.rlvr.lock, held by rank 0 for the whole run. The kernel drops it when
    the process exits, even by SIGKILL, so there is never a stale lock to delete. (NFS: Linux maps flock to
    POSIX locks on NFSv4; on filesystems without locking, two runs are not detected.)"""

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / LOCK_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: Optional[Any] = open(self.path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "holder unknown"
            self._file.close()
            self._file = None
            raise RunLockedError(
                f"output_dir {output_dir} is in use by another run ({holder}): {self.path} is locked. Let that "
                "run finish or stop it, or choose another output_dir (the lock is released when its holder "
                "exits, even if it is killed, so there is no stale lock to delete)") from None
        self._file.seek(0)
        self._file.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        self._file.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}, "
                         f"command: {' '.join(sys.argv)[:500]}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# ------------------------------------------------------------------------------------------------ resume


def resume_facts(cfg: Config) -> dict:
    """What a checkpoint's trainer state records about the run that wrote it (primitives only)."""
    return {"config": to_dict(cfg), "world_size": _world()}


def resume_path(cfg: Config, rank: int) -> Optional[Path]:
    """checkpoint.resolve_resume on rank 0 only (it reads and hashes the candidates), the answer - or its
    error - broadcast, so every rank loads the same checkpoint or raises the same message."""
    if _world() == 1:
        return checkpoint.resolve_resume(cfg)
    import torch.distributed as dist

    box: list = [None]
    if rank == 0:
        try:
            found = checkpoint.resolve_resume(cfg)
            box = [("ok", None if found is None else str(found))]
        except Exception as e:
            dist.broadcast_object_list([("error", f"{type(e).__name__}: {e}")], src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise checkpoint.CheckpointError(f"(rank 0) {value}")
    return None if value is None else Path(value)


def config_changes(old: dict, new: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every leaf that differs between two config dicts (missing = None)."""
    out = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k), new.get(k)
        key = f"{prefix}{k}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, key + ".")
        elif a != b and key not in IGNORED_KEYS:
            out.append((key, a, b))
    return out


def check_resume(cfg: Config, state: dict, path: Path, rank: int = 0) -> None:
    """Fail when the checkpoint cannot be resumed by this run (world size, FATAL_KEYS); warn listing every
    other changed key (old -> new): the run continues, but it is no longer the run that was checkpointed."""
    world, saved = _world(), state.get("world_size")
    if saved is not None and saved != world:
        raise ResumeError(f"{path} was written by {saved} rank(s) and this run has {world}: DeepSpeed "
                          f"shards and each rank's data position are per rank; resume with {saved} rank(s)")
    old = state.get("config")
    if old is None:
        log.warning("%s records no config: changed keys cannot be listed", path)
        return
    changes = config_changes(old, to_dict(cfg))
    fatal = [f"{k}: {a!r} -> {b!r} ({FATAL_KEYS[k]})" for k, a, b in changes if k in FATAL_KEYS]
    if fatal:
        raise ResumeError(f"cannot resume {path} with a changed config:\n  " + "\n  ".join(fatal)
                          + "\n(set them back, or start a new run with resume=never)")
    if changes and rank == 0:
        log.warning("resuming %s with a changed config (%d key(s), old -> new):\n  %s", path, len(changes),
                    "\n  ".join(f"{k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in changes))


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
