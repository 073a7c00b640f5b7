"""Metric tracking: output_dir/metrics.jsonl (the source of truth), TensorBoard, W&B and a rich console.

Only rank 0 writes; every other rank gets a Tracker whose methods do nothing, so the loop needs no `if rank`.
metrics.jsonl holds one JSON object per step, `{"step": s, "reward/acc": ..., ...}`, flushed and fsync'ed after
every line, so a SIGKILL loses at most the line being written. On resume the file is cut back to the resumed
step (a killed run may have logged steps past its last checkpoint, plus a torn final line), so the file always
reads as one consistent run.

    tracker = Tracker(cfg, rank)
    tracker.write_config(cfg)
    timer = Timer()
    with timer("rollout"):
        ...
    tracker.log(step, {**metrics, **timer.metrics()})
    tracker.close()
"""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional

from rlvr.config import Config, to_dict, to_yaml

# The per-step console line, in this order; a metric missing from a step is skipped.
CONSOLE_KEYS = {
    "reward/acc": "acc",
    "reward/total": "reward",
    "policy/entropy": "entropy",
    "rollout/response_len_mean": "len",
    "perf/step_s": "step_s",
}


def release_memory() -> None:
    """Hand memory freed by the phase that just ended back to the system before the next one grows: Python's
    cycles, the CUDA caching allocator's free blocks, and glibc's free heap pages (malloc_trim). glibc keeps
    freed pages of its arenas resident, so on CPU a phase's peak (the rollout's KV cache and logits, ZeRO-3's
    gathered buckets, the update's activations) otherwise stays in the next phase's RSS."""
    import ctypes
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        pass


class MemoryWatch:
    """Peak memory of this process between `reset()` and `peak()`: resident set (VmRSS) and its anonymous part
    (RssAnon: private memory; VmRSS also counts mapped checkpoint pages, which the page cache shares and can
    drop) sampled by one daemon thread every `interval_s`, plus the CUDA allocator's peak on a GPU. Linux /proc;
    elsewhere RSS falls back to ru_maxrss (a lifetime peak)."""

    _instance: Optional["MemoryWatch"] = None

    def __init__(self, interval_s: float = 0.02) -> None:
        import threading

        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._proc = Path("/proc/self/status").exists()
        self._max = self._read()
        threading.Thread(target=self._run, name="rlvr-memory-watch", daemon=True).start()

    @classmethod
    def shared(cls) -> "MemoryWatch":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _read(self) -> tuple[float, float]:
        """-> (rss, anon) in bytes."""
        if not self._proc:
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
            return rss, rss
        vals = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    key, kb = line.split()[:2]
                    vals[key] = float(kb) * 1024
        return vals.get("VmRSS:", 0.0), vals.get("RssAnon:", 0.0)

    def _run(self) -> None:
        while True:
            self._sample()
            time.sleep(self.interval_s)

    def _sample(self) -> None:
        now = self._read()
        with self._lock:
            self._max = (max(self._max[0], now[0]), max(self._max[1], now[1]))

    def reset(self) -> None:
        with self._lock:
            self._max = self._read()
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> dict[str, float]:
        """{"rss": GB, "anon": GB[, "gpu": GB]} since the last reset."""
        self._sample()
        with self._lock:
            out = {"rss": self._max[0] / 1e9, "anon": self._max[1] / 1e9}
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.max_memory_allocated() / 1e9
        return out


class Timer:
    """Wall-clock time per phase: `with timer("rollout"): ...`; repeated phases (dynamic sampling) add up.
    Also each phase's peak memory (MemoryWatch): largest over repeats here, largest over ranks when combined."""

    def __init__(self, memory: bool = True) -> None:
        self.totals: dict[str, float] = {}
        self.memory: dict[str, dict[str, float]] = {}
        self._watch = MemoryWatch.shared() if memory else None

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        if self._watch is not None:
            self._watch.reset()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.totals[phase] = self.totals.get(phase, 0.0) + time.perf_counter() - t0
            if self._watch is not None:
                seen = self.memory.setdefault(phase, {})
                for k, v in self._watch.peak().items():
                    seen[k] = max(seen.get(k, 0.0), v)

    def metrics(self) -> dict[str, float]:
        """`{"perf/<phase>_s": seconds, "perf/<phase>_<rss|anon|gpu>_peak_gb": Max(GB)}` for every phase so far."""
        from rlvr.metrics import Max

        out: dict[str, float] = {f"perf/{phase}_s": s for phase, s in self.totals.items()}
        for phase, peaks in self.memory.items():
            out.update({f"perf/{phase}_{k}_peak_gb": Max(v) for k, v in peaks.items()})
        return out


class Tracker:
    """Writes each step's metrics to every enabled sink; a no-op on ranks other than 0."""

    def __init__(self, cfg: Config, rank: int = 0) -> None:
        self.cfg = cfg
        self.enabled = rank == 0
        self.out = Path(cfg.output_dir)
        self.path = self.out / "metrics.jsonl"
        self.line_files = {"samples.jsonl", "versions.jsonl"}  # per-step JSONL records besides metrics
        self._file = None
        self._consistent = False  # becomes True once stale lines (from a killed run) have been cut
        self._tb = None
        self._wandb = None
        self._console = None
        if not self.enabled:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.logging.tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is optional at import time

            self._tb = SummaryWriter(log_dir=str(self.out / "tb"))
        if cfg.logging.wandb:
            self._wandb = _init_wandb(cfg, self.out)
        if cfg.logging.console:
            self._console = _Console(cfg.max_steps)

    # ------------------------------------------------------------------------------------------- public

    def write_config(self, cfg: Config) -> Optional[Path]:
        """Save the resolved config as output_dir/config.yaml (written to a temp file, then renamed)."""
        if not self.enabled:
            return None
        path = self.out / "config.yaml"
        _atomic_write(path, to_yaml(cfg))
        return path

    def resume(self, step: int) -> None:
        """Cut metrics.jsonl back to steps <= `step` (the checkpoint we resumed from) and move the bar there."""
        if not self.enabled:
            return
        self._truncate(lambda s: s <= step)
        if self._console is not None:
            self._console.advance_to(step)

    def log_lines(self, name: str, step: int, rows: list[dict]) -> None:
        """Append per-step records to output_dir/<name> (samples.jsonl: a few rollouts with their rewards and
        extracted answers; versions.jsonl: the policy versions each group was sampled with). Cut back on resume
        like metrics.jsonl."""
        if not self.enabled or not rows:
            return
        if not self._consistent:
            self._truncate(lambda s: s < step)
        self.line_files.add(name)
        with open(self.out / name, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps({"step": int(step), **row}) + "\n" for row in rows))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Append `{"step": step, **metrics}` to metrics.jsonl (fsync'ed), TensorBoard, W&B and the console."""
        if not self.enabled:
            return
        row = {"step": int(step), **{k: _scalar(k, v) for k, v in metrics.items()}}
        if not self._consistent:  # a fresh run in a used output_dir, or resume=auto that found no checkpoint
            self._truncate(lambda s: s < step)
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and v is not None:
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in row.items() if k != "step"}, step=step)
        if self._console is not None:
            self._console.step(step, row)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        if self._console is not None:
            self._console.close()
            self._console = None

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ helpers

    def _truncate(self, keep) -> None:
        """Rewrite metrics.jsonl and samples.jsonl with the parseable rows whose step satisfies `keep`."""
        self._consistent = True
        if self._file is not None:
            self._file.close()
            self._file = None
        for path in (self.path, *(self.out / n for n in sorted(self.line_files))):
            if not path.exists():
                continue
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # the torn last line of a killed run
                    continue
                if isinstance(row, dict) and isinstance(row.get("step"), int) and keep(row["step"]):
                    kept.append(line + "\n")
            _atomic_write(path, "".join(kept))


def read_metrics(output_dir: str | Path) -> list[dict]:
    """All rows of output_dir/metrics.jsonl (skipping a torn last line)."""
    path = Path(output_dir) / "metrics.jsonl"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


# ------------------------------------------------------------------------------------------------ sinks


def _scalar(key: str, value) -> Optional[float]:
    """Plain float for JSON (accepts Python numbers, 0-d tensors and numpy scalars); NaN/inf become null."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r}: expected a number, got {type(value).__name__} {value!r}") from None
    return v if math.isfinite(v) else None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _init_wandb(cfg: Config, out: Path):
    """W&B run; the run id is kept in output_dir so a resumed run continues the same W&B run."""
    import wandb  # lazy: optional dependency, and slow to import

    id_file = out / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:8]
    id_file.write_text(run_id)
    return wandb.init(project=cfg.logging.wandb_project, name=cfg.logging.run_name or out.name, id=run_id,
                      resume="allow", mode=cfg.logging.wandb_mode, dir=str(out), config=to_dict(cfg))


class _Console:
    """rich progress bar over max_steps (with ETA) and one compact line per step."""

    def __init__(self, max_steps: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), console=self.console, transient=False)
        self.task = self.progress.add_task("train", total=max_steps)
        self.progress.start()

    def advance_to(self, step: int) -> None:
        # reset() restarts the ETA clock so resumed steps do not look instantaneous
        self.progress.reset(self.task, completed=step)

    def step(self, step: int, row: Mapping[str, Optional[float]]) -> None:
        parts = [f"{short} {_fmt(row[k])}" for k, short in CONSOLE_KEYS.items() if row.get(k) is not None]
        self.progress.console.print(f"step {step:>5}  " + "  ".join(parts), highlight=False)
        self.progress.update(self.task, completed=step)

    def close(self) -> None:
        self.progress.stop()


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3f}"
