"""Rank liveness watch: real processes beating into a real c10d TCPStore; kill, freeze or finish one of them."""
from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch.distributed as dist

from rlvr.liveness import EXIT_LOST_RANK, pid_alive

pytestmark = pytest.mark.slow  # 9 processes that each import torch (~15 s of CPU)

RANK = textwrap.dedent("""
    import datetime, sys, time
    import torch.distributed as dist
    from rlvr.liveness import RankWatch
    rank, world, port, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = dist.PrefixStore("t/", dist.TCPStore("127.0.0.1", port, is_master=False, wait_for_workers=False,
                                                 timeout=datetime.timedelta(seconds=10)))
    watch = RankWatch(rank, world, timeout_s=2.0, store=store, interval_s=0.2).start()
    print("beating", flush=True)
    if mode == "done":
        time.sleep(1.0)
        watch.close("done")
        sys.exit(0)
    if mode == "fail":
        time.sleep(1.0)
        try:
            raise ValueError("a bug on this rank")
        except ValueError as e:
            print("explained:", watch.explain(e), flush=True)
            watch.close("failed")
        sys.exit(1)
    time.sleep(30)
    print("survived", flush=True)
""")


@pytest.fixture
def ranks(tmp_path):
    """Start `world` ranks on one store; returns a launcher; kills leftovers at the end."""
    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                           timeout=datetime.timedelta(seconds=10))
    procs: list[subprocess.Popen] = []

    def launch(modes: list[str], local: bool) -> list[subprocess.Popen]:
        world = len(modes)
        for r, mode in enumerate(modes):
            env = {**os.environ, "PYTHONPATH": os.getcwd()}
            if local:  # torchrun's view: every rank on this node (pids are checked directly)
                env.update(LOCAL_RANK=str(r), LOCAL_WORLD_SIZE=str(world))
            else:  # as if each rank were on its own node: only heartbeats tell
                env.pop("LOCAL_RANK", None), env.pop("LOCAL_WORLD_SIZE", None)
            p = subprocess.Popen([sys.executable, "-c", RANK, str(r), str(world), str(server.port), mode],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(p)
        for p in procs:
            assert p.stdout.readline().strip() == "beating"
        return procs

    yield launch
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_killed_rank_is_named_by_every_other_rank_within_seconds(ranks):
    procs = ranks(["run", "run", "run"], local=True)
    time.sleep(0.5)
    t0 = time.monotonic()
    procs[2].send_signal(signal.SIGKILL)
    for p in procs[:2]:
        _, err = p.communicate(timeout=20)
        assert p.returncode == EXIT_LOST_RANK, err
        assert f"rank 2 (pid {procs[2].pid} on " in err and "is gone: its process exited" in err
    assert time.monotonic() - t0 < 8


def test_a_frozen_rank_on_another_node_is_named_after_the_heartbeat_timeout(ranks):
    procs = ranks(["run", "run", "run"], local=False)
    time.sleep(0.5)
    t0 = time.monotonic()
    procs[1].send_signal(signal.SIGSTOP)  # alive but silent: only its heartbeat can tell
    for p in (procs[0], procs[2]):  # rank 0 sees the silence, rank 2 learns it from rank 0's verdict
        _, err = p.communicate(timeout=30)
        assert p.returncode == EXIT_LOST_RANK, err
        assert "rank 1 (pid" in err and "stopped responding: no heartbeat for 2 s" in err
    assert 2 <= time.monotonic() - t0 < 15
    assert pid_alive(procs[1].pid)  # frozen, not dead: ending it is the launcher's job


def test_a_rank_that_finishes_is_not_lost_and_a_failing_rank_is_named(ranks):
    procs = ranks(["run", "done", "fail"], local=True)
    assert procs[1].wait(timeout=20) == 0
    out, err = procs[2].communicate(timeout=20)  # its own bug: no other rank to blame
    assert procs[2].returncode == 1 and "explained: None" in out, err
    out0, err0 = procs[0].communicate(timeout=30)  # rank 0 names rank 2's failure, not rank 1's exit
    assert procs[0].returncode == EXIT_LOST_RANK
    assert "rank 2 (pid" in err0 and "failed: ValueError: a bug on this rank" in err0 and "rank 1" not in err0
