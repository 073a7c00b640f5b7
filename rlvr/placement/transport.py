"""What crosses between the rollout ranks and learner rank 0 in split placement, over plain torch.distributed.

* Control plane: the job's c10d store (torchrun's agent store at MASTER_ADDR:MASTER_PORT), under a prefix per
  run: orders (`order/<step>` = generation batches requested, `closed/<step>`), the published policy version,
  the start / stop signals.
* Data plane: two standalone ProcessGroups among learner rank 0 (index 0) and the rollout ranks (1..R), built
  from the same store (no world-sized group, so the learner ranks keep a default group of their own for
  DeepSpeed): `ctl` (gloo) carries pickled messages — finished groups and weight requests — rollout -> learner;
  `meta` (gloo) the header of a weight transfer and `wts` (gloo on CPU, NCCL on GPU) the weights themselves,
  learner -> rollout, bucket by bucket.
* Weights are served, not pushed: after each update learner rank 0 copies the full weights into one of two CPU
  buffers and publishes the version; a rollout rank that wants them asks, and a server thread sends it the
  latest buffer. The learner never waits for a rollout rank, and a rollout rank stops generating only for the
  copy itself.
"""
from __future__ import annotations

import datetime
import os
import pickle
import queue
import threading
from typing import Any, Iterable, Optional

import torch
import torch.distributed as dist

GROUPS, WANT_WEIGHTS, BYE = "groups", "want_weights", "bye"  # message kinds rollout -> learner


def job_store(prefix: str, timeout_s: float = 1800.0):
    """A client of the job's store under `prefix` (the run id, so a restarted job starts clean)."""
    base = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                         timeout=datetime.timedelta(seconds=timeout_s), wait_for_workers=False)
    run = f"{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    return dist.PrefixStore(f"rlvr/{run}/{prefix}/", base)


def process_group(store, name: str, index: int, size: int, backend: str, timeout_s: float):
    """A standalone ProcessGroup of `size` members (this one is `index`), rendezvous through `store`."""
    sub = dist.PrefixStore(f"pg/{name}/", store)
    timeout = datetime.timedelta(seconds=timeout_s)
    if backend == "nccl":
        return dist.ProcessGroupNCCL(sub, index, size, dist.ProcessGroupNCCL.Options())
    return dist.ProcessGroupGloo(sub, index, size, timeout)


def _source(work) -> int:
    return work._source_rank() if hasattr(work, "_source_rank") else work.source_rank()


class Channel:
    """Pickled messages over a gloo group: a [2] header (bytes, kind tag) then a uint8 payload."""

    def __init__(self, pg):
        self.pg = pg

    def send(self, obj: Any, dst: int) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        payload = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        self.pg.send([torch.tensor([payload.numel(), 0], dtype=torch.long)], dst, 1).wait()
        self.pg.send([payload], dst, 2).wait()

    def recv(self, src: Optional[int] = None) -> tuple[int, Any]:
        """(sender index, message) from `src`, or from whoever sends first."""
        header = torch.zeros(2, dtype=torch.long)
        if src is None:
            work = self.pg.recv_anysource([header], 1)
            work.wait()
            src = _source(work)
        else:
            self.pg.recv([header], src, 1).wait()
        payload = torch.empty(int(header[0]), dtype=torch.uint8)
        self.pg.recv([payload], src, 2).wait()
        return src, pickle.loads(payload.numpy().tobytes())


# ------------------------------------------------------------------------------------------ weights out


class WeightBuffers:
    """Learner rank 0: two CPU copies of the full weights, flat per bucket (write one while the other is served).

    manifest: per bucket (dtype, numel, [(name, shape, offset)]), the same on every publish."""

    def __init__(self) -> None:
        self.manifest: Optional[list] = None
        self.buffers: list[list[torch.Tensor]] = [[], []]
        self.front = -1  # index of the published buffer (-1: none yet)
        self.version = -1
        self.readers = [0, 0]
        self.cond = threading.Condition()

    def publish(self, version: int, buckets: Iterable[list[tuple[str, torch.Tensor]]], keep: bool) -> None:
        """Copy every bucket (all learner ranks iterate, collectively under ZeRO-3; only `keep` stores)."""
        back = 1 - self.front if self.front >= 0 else 0
        if keep:
            with self.cond:  # only a transfer that outlived a whole training step can hold us here
                self.cond.wait_for(lambda: self.readers[back] == 0)
        manifest, flats = [], []
        for i, bucket in enumerate(buckets):
            if not keep:
                continue
            dtype, numel = bucket[0][1].dtype, sum(t.numel() for _, t in bucket)
            bufs = self.buffers[back]
            if len(bufs) <= i or bufs[i].numel() != numel or bufs[i].dtype != dtype:
                bufs[i:i + 1] = [torch.empty(numel, dtype=dtype)]
            entries, off = [], 0
            for name, t in bucket:
                bufs[i][off:off + t.numel()].copy_(t.detach().reshape(-1).to(dtype))
                entries.append((name, tuple(t.shape), off))
                off += t.numel()
            manifest.append((dtype, numel, entries))
            flats.append(bufs[i])
        if keep:
            with self.cond:
                self.manifest, self.buffers[back], self.front, self.version = manifest, flats, back, version

    def acquire(self) -> tuple[int, list, list[torch.Tensor], int]:
        with self.cond:
            self.readers[self.front] += 1
            return self.version, self.manifest, self.buffers[self.front], self.front

    def release(self, index: int) -> None:
        with self.cond:
            self.readers[index] -= 1
            self.cond.notify_all()


def serve_weights(buffers: WeightBuffers, meta: Channel, wts, dst: int, device: torch.device) -> None:
    """Send the published weights to rollout index `dst`: (version, manifest) header, then each flat bucket."""
    version, manifest, flats, index = buffers.acquire()
    try:
        meta.send((version, manifest), dst)
        for flat in flats:
            wts.send([flat.to(device, non_blocking=True)], dst, 3).wait()
    finally:
        buffers.release(index)


def receive_weights(ctl: Channel, meta: Channel, wts, device: torch.device):
    """Rollout side: ask learner rank 0 for the weights; -> (version, buckets of (name, tensor))."""
    ctl.send((WANT_WEIGHTS, None), 0)
    version, manifest = meta.recv(0)[1]
    buckets = []
    for dtype, numel, entries in manifest:
        flat = torch.empty(numel, dtype=dtype, device=device)
        wts.recv([flat], 0, 3).wait()
        buckets.append([(name, flat[off:off + _numel(shape)].view(shape)) for name, shape, off in entries])
    return version, buckets


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --------------------------------------------------------------------------------------- groups in


class Inbox:
    """Learner rank 0: a thread receives every message; groups go to `shards`, weight requests are served."""

    def __init__(self, ctl: Channel, meta: Channel, wts, buffers: WeightBuffers, n_rollout: int,
                 device: torch.device):
        self.ctl, self.meta, self.wts, self.buffers, self.device = ctl, meta, wts, buffers, device
        self.shards: queue.Queue = queue.Queue()
        self.requests: queue.Queue = queue.Queue()
        self.open = n_rollout
        self.error: Optional[BaseException] = None
        self.receiver = threading.Thread(target=self._receive, name="rlvr-inbox", daemon=True)
        self.receiver.start()
        threading.Thread(target=self._serve, name="rlvr-weights", daemon=True).start()

    def _receive(self) -> None:
        try:
            while self.open:
                src, (kind, body) = self.ctl.recv()
                if kind == GROUPS:
                    self.shards.put(body)
                elif kind == WANT_WEIGHTS:
                    self.requests.put(src)
                elif kind == BYE:
                    self.open -= 1
        except BaseException as e:  # noqa: BLE001 -- surfaced to the main thread by `get`
            self.error = e
            self.shards.put(None)

    def _serve(self) -> None:
        while True:
            dst = self.requests.get()
            try:
                serve_weights(self.buffers, self.meta, self.wts, dst, self.device)
            except BaseException as e:  # noqa: BLE001
                self.error = e
                self.shards.put(None)
                return

    def drain(self, timeout_s: float) -> bool:
        """After the stop signal: wait until every rollout rank said goodbye (its current generation call
        ends first), so no receive is left pending when the process exits. False if one never did."""
        self.receiver.join(timeout_s)
        return not self.receiver.is_alive()

    def get(self, timeout: float) -> Optional[dict]:
        try:
            shard = self.shards.get(timeout=timeout)
        except queue.Empty:
            return None
        if shard is None:
            raise RuntimeError(f"split placement: the link to the rollout ranks failed: {self.error!r}")
        return shard
