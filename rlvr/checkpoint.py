"""Atomic checkpoints: a checkpoint directory either is complete or does not exist under its final name.

Layout under output_dir/checkpoints/:

    .tmp-step-<N>/     being written (DeepSpeed shards of every rank, trainer_state*.pt, hf/ export)
    step-<N>/          complete: only ever created by renaming a finished, fsync'ed .tmp-step-<N>
    latest             text file naming the newest complete checkpoint ("step-<N>"), replaced atomically
    step-<N>/manifest.json   size (and sha256) of every file, written last before the commit

A run killed at any instant leaves at worst a .tmp-* directory (ignored by `latest`, removed by the next save)
and a `latest` that still names the previous complete checkpoint. Multi-rank saves follow the collective shape
rank 0 creates tmp -> barrier -> every rank writes -> barrier -> rank 0 commits -> barrier; with several nodes
output_dir must be on a filesystem all ranks share (as DeepSpeed's own checkpointing assumes).

Damage after the commit (a truncated copy, a flipped bit, a file deleted by hand) is caught by the manifest
before anything loads: resume=auto (or a run directory) falls back to the newest intact checkpoint with a
warning naming the damaged file; an explicitly named checkpoint fails with that file's name. A failed write
(disk full) raises CheckpointError with the filesystem's free space and removes its own .tmp-* directory;
complete checkpoints are never touched. Trainer state holds only tensors and primitives, so it loads with
torch.load(weights_only=True): a checkpoint from elsewhere cannot run code.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from rlvr.config import Config

POINTER = "latest"
MANIFEST = "manifest.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")
log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read; the message names the file and what to do."""


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def save(output_dir: str | Path, step: int, write_fn: Callable[[Path], Any], keep_last: int = 2,
         barrier: Optional[Callable[[], Any]] = None, rank: int = 0, checksum: bool = True) -> Path:
    """Write checkpoint `step` atomically and return its final path (on every rank).

    write_fn(tmp_dir) writes this rank's files into tmp_dir (it runs on every rank). `barrier` is a collective
    (e.g. torch.distributed.barrier) called by every rank; leave it None in single-process runs. keep_last > 0
    prunes to that many complete checkpoints (the one `latest` names is never pruned); 0 keeps all. checksum:
    the manifest also records each file's sha256 (rank 0 reads every byte once), else sizes only.
    A rank whose write fails raises CheckpointError at once (its peers, waiting in a collective, are ended by
    the run guard's liveness watch, which names this rank).
    """
    root = checkpoints_dir(output_dir)
    tmp, final = root / f".tmp-step-{step}", root / f"step-{step}"
    sync = barrier or (lambda: None)
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        clean_tmp(output_dir)  # leftovers of a killed run (and a half-written tmp of this very step)
        tmp.mkdir()
    sync()  # tmp exists before any rank writes into it
    try:
        write_fn(tmp)
        _fsync_tree(tmp)  # each rank makes its own shards durable (a no-op for files already on disk)
    except Exception as e:  # disk full, quota, I/O error: say so, free the space, keep the old checkpoints
        raise CheckpointError(_write_failed(output_dir, tmp, step, rank, e)) from e
    sync()  # every rank has finished writing
    if rank == 0:
        write_manifest(tmp, checksum)
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
    """cfg.resume: `never` -> None; `auto` -> newest intact checkpoint of cfg.output_dir (None: fresh start);
    anything else is a path to a checkpoint (step-<N>, which must be intact) or to a run directory (its newest
    intact one). Every candidate is checked against its manifest first (see newest_intact / verify)."""
    mode, checksum = cfg.resume, cfg.checkpoint.checksum
    if mode == "never":
        return None
    if mode == "auto":
        return newest_intact(cfg.output_dir, checksum)
    path = Path(mode)
    if not path.exists():
        raise FileNotFoundError(f"resume: checkpoint {str(path)!r} does not exist (use resume=auto or never)")
    if path.name.startswith(".tmp-"):
        raise ValueError(f"resume: {path} is an incomplete checkpoint (a save was interrupted); use its run's latest")
    if (path / "checkpoints").is_dir() or path.name == "checkpoints":
        run = path.parent if path.name == "checkpoints" else path
        found = newest_intact(run, checksum)
        if found is None:
            raise FileNotFoundError(f"resume: run directory {str(run)!r} has no complete checkpoint")
        return found
    problems = verify(path, checksum)
    if problems:
        raise CheckpointError(f"resume: checkpoint {path} is damaged:\n  " + "\n  ".join(problems)
                              + "\n(resume from its run directory or resume=auto to fall back to an older one)")
    return path


def newest_intact(output_dir: str | Path, checksum: bool = True) -> Optional[Path]:
    """The newest complete checkpoint that matches its manifest, falling back to older ones with a warning
    naming the damaged files (they stay in place; re-saving that step replaces them). None: no checkpoint."""
    newest = latest(output_dir)
    if newest is None:
        return None
    older = [p for p in reversed(complete_checkpoints(output_dir)) if step_of(p) < step_of(newest)]
    damaged: list[str] = []
    for path in [newest, *older]:
        problems = verify(path, checksum)
        if not problems:
            if damaged:
                log.warning("resume: skipping damaged checkpoint(s):\n  %s\nresuming from %s instead",
                            "\n  ".join(damaged), path)
            return path
        damaged += [f"{path.name}: {p}" for p in problems]
    raise CheckpointError(f"resume: no intact checkpoint under {checkpoints_dir(output_dir)}:\n  "
                          + "\n  ".join(damaged) + "\n(start afresh with resume=never, or restore the files)")


# ----------------------------------------------------------------------------------------------- manifest


def write_manifest(ckpt_dir: str | Path, checksum: bool = True) -> Path:
    """Record the size (and sha256) of every file under ckpt_dir in ckpt_dir/manifest.json (fsync'ed)."""
    root = Path(ckpt_dir)
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.name != MANIFEST):
        entry: dict = {"size": path.stat().st_size}
        if checksum:
            entry["sha256"] = sha256_file(path)
        files[path.relative_to(root).as_posix()] = entry
    out = root / MANIFEST
    with open(out, "w") as f:
        json.dump({"version": 1, "files": files}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return out


def verify(ckpt_dir: str | Path, checksum: bool = True) -> list[str]:
    """Problems of a checkpoint against its manifest: missing files, wrong sizes (a truncated copy) and, when
    `checksum` and recorded, wrong sha256 (corruption). [] = intact. No manifest (a checkpoint written before
    manifests existed): a warning, and [] (nothing to check against)."""
    root = Path(ckpt_dir)
    path = root / MANIFEST
    if not path.exists():
        log.warning("%s has no %s (written by an older rlvr?): its files are not verified", root, MANIFEST)
        return []
    try:
        files = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as e:
        return [f"{path}: unreadable manifest ({type(e).__name__}: {e})"]
    problems = []
    for rel, entry in files.items():
        f = root / rel
        if not f.is_file():
            problems.append(f"{f}: missing")
        elif f.stat().st_size != entry["size"]:
            problems.append(f"{f}: {f.stat().st_size} bytes, the manifest records {entry['size']} (truncated?)")
        elif checksum and "sha256" in entry and sha256_file(f) != entry["sha256"]:
            problems.append(f"{f}: sha256 differs from the manifest (corrupted)")
    return problems


# ------------------------------------------------------------------------------------------ trainer state


def save_trainer_state(ckpt_dir: str | Path, state: dict, rank: int = 0) -> Path:
    """torch.save a small per-rank dict (step, sampler position, rng_state(), algorithm running stats) of
    tensors and primitives only, so that load_trainer_state can refuse anything else."""
    _inject_fault("kill_in_save", state.get("step"), rank)  # fault tests: DeepSpeed's shards exist, this not
    path = Path(ckpt_dir) / f"trainer_state_rank{rank}.pt"
    torch.save(state, path)
    return path


def load_trainer_state(ckpt_dir: str | Path, rank: int = 0) -> dict:
    """Load with weights_only=True: tensors and primitives, never pickled code (the file may come from
    anywhere)."""
    path = Path(ckpt_dir) / f"trainer_state_rank{rank}.pt"
    if not path.exists():
        ranks = len(list(Path(ckpt_dir).glob("trainer_state_rank*.pt")))
        raise FileNotFoundError(f"{path} missing: {ckpt_dir} was written by {ranks} rank(s) and this is "
                                f"rank {rank}; resume with the world size that wrote it")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle: name the file, never fall back to full unpickling
        raise CheckpointError(f"{path}: cannot be loaded as tensors and primitives ({load_error(e)}); "
                              "the file is damaged or was not written by rlvr") from e


def load_error(e: BaseException) -> str:
    """The telling line of a torch.load failure (weights-only refusals name the global they refused)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    hit = next((ln for ln in lines if "GLOBAL" in ln), lines[0] if lines else "")
    return f"{type(e).__name__}: {hit[:300]}"


def rng_state() -> dict:
    """Every RNG the run draws from: Python, NumPy, torch CPU and (when present) all CUDA devices, as tensors,
    lists and numbers (torch.load(weights_only=True) reads them back)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(internal), gauss],
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what rng_state() captured (CUDA only when both the state and the devices are there)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ helpers


def _write_failed(output_dir: str | Path, tmp: Path, step: int, rank: int, err: Exception) -> str:
    """The message of a failed save (after removing the partial tmp dir, which frees what it held)."""
    root = checkpoints_dir(output_dir)
    usage = shutil.disk_usage(root)  # before the rmtree: how full the disk was when the write failed
    shutil.rmtree(tmp, ignore_errors=True)
    codes, e = set(), err
    while e is not None:
        codes.add(getattr(e, "errno", None))
        e = e.__cause__ or e.__context__
    full = bool(codes & {errno.ENOSPC, errno.EDQUOT}) or usage.free < 0.01 * usage.total
    prev = latest(output_dir)
    return (f"saving checkpoint step-{step} failed on rank {rank}: {type(err).__name__}: {err}\n"
            f"  {root}: {usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.1f} MiB"
            + (" -- the disk is full" if full else "") + "\n"
            f"  the incomplete {tmp.name} was removed; complete checkpoints are untouched "
            f"(latest: {prev.name if prev else 'none'})")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks (checkpoint manifests, eval data provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _inject_fault(point: str, step: Optional[int], rank: int) -> None:
    """Test hook: RLVR_FAULT_INJECT=<point>:<step>[:<rank>] SIGKILLs this process at that point (fault tests)."""
    spec = os.environ.get("RLVR_FAULT_INJECT", "").split(":")
    if spec[0] == point and len(spec) > 1 and str(step) == spec[1] and (len(spec) < 3 or spec[2] == str(rank)):
        os.kill(os.getpid(), signal.SIGKILL)


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
