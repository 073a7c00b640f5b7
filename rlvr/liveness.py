"""Rank liveness: a lost rank ends every rank of the job with its name, within seconds, never a hang.

Why not collective timeouts alone: a collective that fails (gloo: "connection reset by peer") or times out
(NCCL watchdog, after collective_timeout_s) says *that* something is wrong, not *which* rank is gone. Under
torchrun the agent also SIGTERMs the survivors when a local worker dies, and our SIGTERM handler would try to
finish the step and checkpoint, blocking on collectives with a dead peer until the agent's SIGKILL.

How: every rank runs a daemon thread that once a second writes a record {beat, state, pid, host} into the
job's c10d store (torchrun's agent store, or rank 0's; a separate client connection, so a slow main thread
never blocks it). A rank is *lost* when
  * it shares this node and its pid is gone (a zombie counts as gone): seen within ~1 s;
  * its beat stops advancing for heartbeat_timeout_s (a frozen process, or a node that vanished);
  * it reported `failed` (its own code raised) - named after a short probe, unless some rank is lost.
Whoever sees it first publishes one verdict (compare_set: the first one wins) and every rank reads it, so
ranks on other nodes learn of a local death in ~1 s too. Store traffic is O(world) per second: rank 0 reads
every record, every other rank reads rank 0's record and the verdict. On a verdict the thread waits a few
seconds for the main thread to end by itself (a failed collective raises, and RankWatch.explain names the
lost rank in the error), then kills this rank's child processes and exits with EXIT_LOST_RANK.
Multi-node works the same way (the store is reachable from every node); pids are only checked on the same
node (same hostname and pid namespace).
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import sys
import threading
import time
from typing import Optional

log = logging.getLogger("rlvr.liveness")

EXIT_LOST_RANK = 75  # sysexits EX_TEMPFAIL: the job can be resumed (resume=auto) once the rank is back
_GRACE_S = 3.0  # how long the main thread may take to end by itself after a verdict


def host_id() -> str:
    """Processes with the same host id can see each other's pids (same machine, same pid namespace)."""
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        ns = 0
    return f"{socket.gethostname()}/{ns}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child of torchrun is a zombie until the agent reaps it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


class RankWatch:
    """One per rank: start() after torch.distributed is initialised, close() when the run ends."""

    def __init__(self, rank: int, world: int, timeout_s: float, store=None,
                 interval_s: Optional[float] = None):
        self.rank, self.world, self.timeout_s = rank, world, timeout_s
        self.interval_s = interval_s or min(1.0, max(0.05, timeout_s / 10))
        self.probe_s = max(3 * self.interval_s, 2.0)  # a live peer beats several times in this window
        self._store = store if store is not None else _connect(timeout_s)
        self._beat = 0
        self._state, self._why = "running", ""
        self._seen: dict[int, tuple[int, float]] = {}  # rank -> (last beat, local time it changed)
        self._suspect_since: Optional[float] = None  # something looks wrong: judge silence on probe_s
        self._store_down_since: Optional[float] = None
        self._closing = threading.Event()
        self._stopped = threading.Event()
        self.verdict: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name="rlvr-liveness", daemon=True)

    def start(self) -> "RankWatch":
        self._publish()
        self._thread.start()
        return self

    # ------------------------------------------------------------------------------------------- main side

    def explain(self, error: BaseException) -> Optional[str]:
        """The main thread is failing with `error`: mark this rank failed and wait (<= probe_s + 4 beats) for a
        verdict naming another rank. None when no other rank is lost or failed (the error is this rank's
        own)."""
        self._closing.set()
        self._state, self._why = "failed", f"{type(error).__name__}: {_first_line(error)}"
        self._publish()
        self._suspect_since = self._suspect_since or time.monotonic()
        deadline = time.monotonic() + self.probe_s + 4 * self.interval_s  # rank 0: see us, probe, publish
        while time.monotonic() < deadline and self.verdict is None and self._thread.is_alive():
            time.sleep(self.interval_s / 4)
        v = self.verdict
        return v if v and not v.startswith(f"rank {self.rank} ") else None

    def close(self, state: str = "done", why: str = "") -> None:
        """Stop beating; `done` tells the others this rank ended on purpose (its silence is not a loss);
        `failed` with `why` lets them name this rank's own error."""
        self._closing.set()
        if self._state == "running":
            self._state, self._why = state, why
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.interval_s + 1)
        self._publish()

    # ------------------------------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                self._beat += 1
                self._publish(raise_errors=True)
                verdict = self._read_verdict() or self._judge()
                self._store_down_since = None
            except Exception as e:  # noqa: BLE001 - the store itself is unreachable
                verdict = self._store_down(e)
            if verdict:
                self._act(verdict)
                return

    def _judge(self) -> Optional[str]:
        now = time.monotonic()
        watched = range(self.world) if self.rank == 0 else [0, *self._local_ranks()]
        records = self._records([r for r in watched if r != self.rank])
        lost, failed = [], []
        for r, rec in records.items():
            if rec is None or rec["state"] not in ("running", "failed"):  # not started, done, or aborted
                continue
            who = f"rank {r} (pid {rec['pid']} on {rec['hostname']})"
            if rec["state"] == "failed":
                failed.append(f"{who} failed: {rec['why']}")
                continue
            if rec["host"] == _HOST and not pid_alive(rec["pid"]):
                lost.append(f"{who} is gone: its process exited")
                continue
            beat, since = self._seen.get(r, (None, now))
            if rec["beat"] != beat:
                self._seen[r] = (rec["beat"], now)
                continue
            silent = now - since
            suspect = self._suspect_since
            probing = suspect is not None and now - max(suspect, since) >= self.probe_s
            if silent >= self.timeout_s or probing:
                lost.append(f"{who} stopped responding: no heartbeat for {silent:.0f} s "
                            "(hung, frozen, or its node is gone)")
        if lost:
            return self._publish_verdict("; ".join(lost))
        if failed:  # a failure may be the echo of a lost rank's collective: look for one before naming it
            self._suspect_since = self._suspect_since or now
            if now - self._suspect_since >= self.probe_s:
                return self._publish_verdict("; ".join(failed))
        return None

    def _act(self, verdict: str) -> None:
        self.verdict = verdict
        if self._closing.is_set():  # the main thread is already ending; explain() hands it the verdict
            return
        log.error("lost rank: %s; ending rank %d", verdict, self.rank)
        self._state, self._why = "aborted", verdict
        self._publish()
        if self._closing.wait(_GRACE_S):  # a failed collective raised and the main thread is unwinding
            return
        # the same words as the main thread's LostRankError (run_guard.report): one message, either path
        print(f"rlvr train: error: {verdict}; rank {self.rank} stops (its main thread was busy; exit "
              f"{EXIT_LOST_RANK})", file=sys.stderr, flush=True)
        _end_children()
        logging.shutdown()
        os._exit(EXIT_LOST_RANK)

    def _store_down(self, err: Exception) -> Optional[str]:
        now = time.monotonic()
        self._store_down_since = self._store_down_since or now
        if self._closing.is_set() or now - self._store_down_since < self.timeout_s:
            return None  # e.g. rank 0 hosted the store and has just finished: not a loss until it persists
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        return (f"the job's store at {where} (torchrun's agent or rank 0, on node 0) has been unreachable for "
                f"{now - self._store_down_since:.0f} s ({type(err).__name__}): node 0 is presumed lost")

    # ------------------------------------------------------------------------------------------- the store

    def _publish(self, raise_errors: bool = False) -> None:
        rec = {"beat": self._beat, "state": self._state, "why": self._why[:300], "pid": os.getpid(),
               "host": _HOST, "hostname": socket.gethostname()}
        try:
            self._store.set(f"rank/{self.rank}", json.dumps(rec))
        except Exception:  # noqa: BLE001
            if raise_errors:
                raise

    def _records(self, ranks: list[int]) -> dict[int, Optional[dict]]:
        keys = [f"rank/{r}" for r in ranks]
        if not keys:
            return {}
        if self._store.check(keys):
            return {r: json.loads(v) for r, v in zip(ranks, self._store.multi_get(keys))}
        out: dict[int, Optional[dict]] = {}
        for r, k in zip(ranks, keys):  # some ranks have not started beating yet
            out[r] = json.loads(self._store.get(k)) if self._store.check([k]) else None
        return out

    def _local_ranks(self) -> list[int]:
        """Ranks on this node (torchrun numbers them contiguously): their pids are checked directly."""
        local, n = os.environ.get("LOCAL_RANK"), os.environ.get("LOCAL_WORLD_SIZE")
        if local is None or n is None:
            return []
        first = self.rank - int(local)
        return [r for r in range(first, first + int(n)) if r not in (self.rank, 0) and 0 <= r < self.world]

    def _read_verdict(self) -> Optional[str]:
        return self._store.get("verdict").decode() if self._store.check(["verdict"]) else None

    def _publish_verdict(self, verdict: str) -> str:
        return self._store.compare_set("verdict", "", verdict).decode()  # the first verdict wins


_HOST = host_id()


def _connect(timeout_s: float):
    """A client of the job's store (MASTER_ADDR:MASTER_PORT: torchrun's agent store, or the one rank 0 hosts),
    our own connection with a short timeout, under a prefix per torchrun restart."""
    import torch.distributed as dist

    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                          timeout=datetime.timedelta(seconds=max(5.0, min(timeout_s, 30.0))),
                          wait_for_workers=False)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    run = os.environ.get("TORCHELASTIC_RUN_ID", "run")
    return dist.PrefixStore(f"rlvr/liveness/{run}/{attempt}/", store)


def _end_children() -> None:
    """Terminate this rank's child processes (verifier workers, engine processes) before os._exit."""
    try:
        import psutil
    except ImportError:
        return
    kids = psutil.Process().children(recursive=True)
    for k in kids:
        try:
            k.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(kids, timeout=3)
    for k in alive:
        try:
            k.kill()
        except psutil.Error:
            pass


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else ""
