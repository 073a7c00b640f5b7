"""Atomic checkpoints: a checkpoint directory either is complete or does not exist under its final name.

Layout under output_dir/checkpoints/:

    .tmp-step-<N>/     being written (DeepSpeed shards of every rank, trainer_state*.pt, hf/ export)
    step-<N>/          complete: only ever created by renaming a finished, fsync'ed .tmp-step-<N>
    latest             text file naming the newest complete checkpoint ("step-<N>"), replaced atomically

A run killed at any instant leaves at worst a .tmp-* directory (ignored by `latest`, removed by the next save)
and a `latest` that still names the previous complete checkpoint. Multi-rank saves follow the collective shape
rank 0 creates tmp -> barrier -> every rank writes -> barrier -> rank 0 commits -> barrier; with several nodes
output_dir must be on a filesystem all ranks share (as DeepSpeed's own checkpointing assumes).
"""
from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from rlvr.config import Config

POINTER = "latest"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def save(output_dir: str | Path, step: int, write_fn: Callable[[Path], Any], keep_last: int = 2,
         barrier: Optional[Callable[[], Any]] = None, rank: int = 0) -> Path:
    """Write checkpoint `step` atomically and return its final path (on every rank).

    write_fn(tmp_dir) writes this rank's files into tmp_dir (it runs on every rank). `barrier` is a collective
    (e.g. torch.distributed.barrier) called by every rank; leave it None in single-process runs. keep_last > 0
    prunes to that many complete checkpoints (the one `latest` names is never pruned); 0 keeps all.
    """
    root = checkpoints_dir(output_dir)
    tmp, final = root / f".tmp-step-{step}", root / f"step-{step}"
    sync = barrier or (lambda: None)
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        clean_tmp(output_dir)  # leftovers of a killed run (and a half-written tmp of this very step)
        tmp.mkdir()
    sync()  # tmp exists before any rank writes into it
    write_fn(tmp)
    _fsync_tree(tmp)  # each rank makes its own shards durable (a no-op for files already on disk)
    sync()  # every rank has finished writing
    if rank == 0:
        if final.exists():  # a killed run committed step-N but died before moving `latest` (we resumed earlier)
            stale = root / f".tmp-old-step-{step}"
            os.replace(final, stale)
            shutil.rmtree(stale)
        os.replace(tmp, final)  # the commit: a same-filesystem directory rename is atomic
        _fsync_dir(root)
        _write_pointer(root, final.name)
        if keep_last > 0:
            prune(output_dir, keep_last)
    sync()  # no rank moves on (or resumes) before the commit is visible
    return final


def latest(output_dir: str | Path) -> Optional[Path]:
    """The newest complete checkpoint of a run: what `latest` names; without a readable pointer, the highest
    step-<N> directory (every step-<N> is complete by construction). None when there is none."""
    root = checkpoints_dir(output_dir)
    pointer = root / POINTER
    if pointer.is_file():
        name = pointer.read_text().strip()
        path = Path(name) if Path(name).is_absolute() else root / name
        if name and _STEP_DIR.match(path.name) and path.is_dir():
            return path
    steps = complete_checkpoints(output_dir)
    return steps[-1] if steps else None


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """step-<N> directories, oldest first."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found)]


def step_of(path: str | Path) -> int:
    """The step number of a step-<N> checkpoint directory."""
    m = _STEP_DIR.match(Path(path).name)
    if not m:
        raise ValueError(f"{path} is not a step-<N> checkpoint directory")
    return int(m.group(1))


def prune(output_dir: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` complete checkpoints (never the one `latest` names)."""
    if keep_last < 1:
        raise ValueError(f"checkpoint.keep_last must be >= 1 to prune, got {keep_last}")
    keep = latest(output_dir)
    removed = []
    for path in complete_checkpoints(output_dir)[:-keep_last]:
        if path != keep:
            shutil.rmtree(path)
            removed.append(path)
    return removed


def clean_tmp(output_dir: str | Path) -> list[Path]:
    """Remove .tmp-* directories left by a run killed mid-save. Call on rank 0 only, with no save in flight."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    stale = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    for p in stale:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return stale


def resolve_resume(cfg: Config) -> Optional[Path]:
    """cfg.resume: `never` -> None; `auto` -> latest complete checkpoint of cfg.output_dir (None: fresh start);
    anything else is a path to a checkpoint (step-<N>) or to a run directory (its latest), which must exist."""
    mode = cfg.resume
    if mode == "never":
        return None
    if mode == "auto":
        return latest(cfg.output_dir)
    path = Path(mode)
    if not path.exists():
        raise FileNotFoundError(f"resume: checkpoint {str(path)!r} does not exist (use resume=auto or never)")
    if path.name.startswith(".tmp-"):
        raise ValueError(f"resume: {path} is an incomplete checkpoint (a save was interrupted); use its run's latest")
    if (path / "checkpoints").is_dir() or path.name == "checkpoints":
        run = path.parent if path.name == "checkpoints" else path
        found = latest(run)
        if found is None:
            raise FileNotFoundError(f"resume: run directory {str(run)!r} has no complete checkpoint")
        return found
    return path


# ------------------------------------------------------------------------------------------ trainer state


def save_trainer_state(ckpt_dir: str | Path, state: dict, rank: int = 0) -> Path:
    """torch.save a small per-rank dict (step, sampler position, rng_state(), algorithm running stats)."""
    path = Path(ckpt_dir) / f"trainer_state_rank{rank}.pt"
    torch.save(state, path)
    return path


def load_trainer_state(ckpt_dir: str | Path, rank: int = 0) -> dict:
    path = Path(ckpt_dir) / f"trainer_state_rank{rank}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: was the checkpoint written with a different world size?")
    return torch.load(path, weights_only=False)  # our own file: numpy RNG state needs full unpickling


def rng_state() -> dict:
    """Every RNG the run draws from: Python, NumPy, torch CPU and (when present) all CUDA devices."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what rng_state() captured (CUDA only when both the state and the devices are there)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ helpers


def _write_pointer(root: Path, name: str) -> None:
    tmp = root / f".{POINTER}.tmp"
    with open(tmp, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / POINTER)  # readers see the old name or the new one, never a partial file
    _fsync_dir(root)


def _fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for name in files:
            if os.path.islink(os.path.join(dirpath, name)):
                continue
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    """Persist a directory's entries (the rename itself); not supported on every OS/filesystem."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
