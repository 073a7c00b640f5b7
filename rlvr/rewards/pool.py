"""A process pool for verifiers with a hard per-item wall-clock deadline enforced by the parent.

Why not multiprocessing.Pool / ProcessPoolExecutor: neither can kill the one worker that hangs (a sympy power
tower, a user verifier in `while True`), and a worker that dies breaks the whole executor. Here every worker
has its own pipe and runs one item at a time, so the parent always knows which item a worker holds:
  * at the deadline the parent SIGKILLs that worker, scores the item `timeout`, and starts a replacement;
  * a worker that dies mid-item (segfault, os._exit, OOM) scores the item `error` and is replaced;
  * the other workers keep going meanwhile; nothing else is lost or delayed.
Workers come from a forkserver (or spawn) context: the trainer holds torch / vLLM threads, so fork is unsafe.
The forkserver preloads math-verify + sympy, so a replacement is ready in well under a second.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Optional

from rlvr.rewards.registry import VERIFIERS, Verdict, load_builtins, load_modules, to_verdict

log = logging.getLogger(__name__)
Task = tuple  # (verifier name, response, answer, meta dict)
STARTUP_TIMEOUT_S = 120.0  # a worker that cannot import its verifiers within this is a configuration error


def _worker_main(conn: Connection, modules: list[str], memory_mb: int) -> None:
    """Worker loop: receive a task, run the verifier, send back a Verdict tuple. Exits on None / EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the trainer, which closes the pool
    if memory_mb > 0:  # a power tower like 10^{10^{10}} would otherwise allocate gigabytes before the deadline
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, resource.RLIM_INFINITY))
    load_builtins()
    load_modules(modules)
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        name, response, answer, meta = task
        try:
            v = to_verdict(VERIFIERS.get(name)(response, answer, **meta))
            reply = ("ok", v.score, v.correct, v.extracted, v.status)
        except BaseException as e:  # noqa: B036 -- SystemExit / math-verify's TimeoutException are BaseExceptions
            reply = ("error", f"{type(e).__name__}: {str(e)[:300]}")
        conn.send(reply)


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    started: float
    ready: bool = False
    item: Optional[int] = None  # index of the task it holds
    t0: float = 0.0  # when that task was sent (its deadline is t0 + timeout)


class VerifierPool:
    """`pool.map(tasks, timeout_s)` -> one Verdict per task, in order; see module docstring."""

    def __init__(self, workers: int = 2, modules: list[str] | tuple[str, ...] = (), memory_mb: int = 4096,
                 start_method: str = "forkserver"):
        if workers < 1:
            raise ValueError(f"reward.workers must be >= 1, got {workers}")
        load_modules(list(modules))  # fail here, in the parent, with a readable error
        self.ctx = get_context(start_method)
        if start_method == "forkserver":
            self.ctx.set_forkserver_preload(["rlvr.rewards.pool", "rlvr.rewards.math", "math_verify", "sympy"])
        self.modules, self.memory_mb, self.n = list(modules), memory_mb, workers
        self.lock = threading.Lock()
        self.workers: list[_Worker] = [self._start() for _ in range(workers)]
        self.timeouts = self.errors = self.startup_failures = 0  # lifetime counters
        atexit.register(self.close)

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=_worker_main, args=(child, self.modules, self.memory_mb), daemon=True)
        proc.start()
        child.close()  # so the parent sees EOF when the worker dies
        return _Worker(proc, parent, time.monotonic())

    def _replace(self, w: _Worker) -> None:
        w.proc.kill()
        w.proc.join(timeout=5)
        w.conn.close()
        self.workers[self.workers.index(w)] = self._start()

    def map(self, tasks: list[Task], timeout_s: float = 5.0,
            progress: Optional[Callable[[int], None]] = None) -> list[Verdict]:
        with self.lock:
            return self._map(tasks, timeout_s, progress)

    def _map(self, tasks, timeout_s, progress) -> list[Verdict]:
        out: list[Optional[Verdict]] = [None] * len(tasks)
        pending, done = deque(range(len(tasks))), 0

        def finish(i: int, v: Verdict, warn: bool = True) -> None:
            nonlocal done
            out[i], done = v, done + 1
            if v.status != "ok" and warn:  # a status the verifier chose itself is its verdict, not a failure
                log.warning("verifier %s %s on prompt %s: %s", tasks[i][0], v.status,
                            tasks[i][3].get("prompt_id", i), v.extracted)
            if progress:
                progress(done)

        while done < len(tasks):
            for w in self.workers:  # hand out work to idle, ready workers
                if w.ready and w.item is None and pending:
                    w.item, w.t0 = pending.popleft(), time.monotonic()
                    w.conn.send(tasks[w.item])
            now = time.monotonic()
            deadlines = [w.t0 + timeout_s for w in self.workers if w.item is not None]
            wait([w.conn for w in self.workers], timeout=max(0.0, min(deadlines, default=now + 1.0) - now))
            for w in list(self.workers):
                self._poll(w, finish, timeout_s)
        return out  # type: ignore[return-value]

    def _poll(self, w: _Worker, finish, timeout_s: float) -> None:
        """Collect w's message if any; kill and replace it on crash or deadline."""
        try:
            msg = w.conn.recv() if w.conn.poll() else None
        except (EOFError, OSError):  # died: crash, os._exit, OOM kill
            if w.item is not None:
                self.errors += 1
                finish(w.item, Verdict(0.0, False, f"worker died (exit code {w.proc.exitcode})", "error"))
            elif not w.ready:
                self.startup_failures += 1
                if self.startup_failures > 3:
                    raise RuntimeError(f"verifier workers keep dying during start-up (exit code {w.proc.exitcode}, "
                                       f"modules: {self.modules}); see their stderr above")
            self._replace(w)
            return
        if msg is not None:
            if msg[0] == "ready":
                w.ready, self.startup_failures = True, 0
            else:
                i, w.item = w.item, None
                if msg[0] == "ok":
                    finish(i, Verdict(msg[1], msg[2], msg[3], msg[4]), warn=False)
                else:
                    self.errors += 1
                    finish(i, Verdict(0.0, False, msg[1], "error"))
        now = time.monotonic()
        if w.item is not None and now - w.t0 > timeout_s:
            self.timeouts += 1
            finish(w.item, Verdict(0.0, False, f"no verdict within {timeout_s:g}s", "timeout"))
            self._replace(w)
        elif not w.ready and now - w.started > STARTUP_TIMEOUT_S:
            raise RuntimeError(f"verifier worker did not start within {STARTUP_TIMEOUT_S:.0f}s "
                               f"(modules: {self.modules}); see its stderr above")

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=2)
            w.conn.close()
        self.workers = []
        atexit.unregister(self.close)

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_SHARED: dict[tuple, VerifierPool] = {}


def shared_pool(workers: int = 2, modules: tuple[str, ...] = (), memory_mb: int = 4096) -> VerifierPool:
    """One pool per (workers, modules), started on first use and reused (eval calls verify_math_batch often)."""
    key = (workers, tuple(modules), memory_mb, os.getpid())
    if key not in _SHARED or not _SHARED[key].workers:
        _SHARED[key] = VerifierPool(workers, modules, memory_mb)
    return _SHARED[key]
