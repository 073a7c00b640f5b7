"""Model-written code in the bubblewrap sandbox: every attack the issue names scores 0, is counted, and leaves the
host untouched. Programs run through the real verifier pool (whose workers carry an RLIMIT_AS) and the real
RewardScorer, so the combination of pool deadline, worker memory limit and sandbox is what is tested.

Each attack program prints the gold only if the attack worked, so "scores 0" is the defence itself."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from rlvr.config import RewardConfig
from rlvr.rewards import RewardScorer, VerifierPool
from rlvr.rewards.code import code_stdout
from rlvr.rewards.sandbox import SandboxLimits, SandboxUnavailable, require_sandbox, run_python
from rlvr.types import Group, Prompt, Rollout

REPO = Path(__file__).resolve().parents[2]
WALL = 1.0  # sandbox wall clock; the pool deadline (6 s) is well above it, so the sandbox is what cuts hangs


def _available() -> str:
    try:
        require_sandbox()
        return ""
    except SandboxUnavailable as e:
        return str(e)


pytestmark = pytest.mark.skipif(bool(_available()), reason=f"sandbox unavailable: {_available()}")


def _block(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```\n"


def _sandbox_procs() -> list[int]:
    """Host pids of any process still running a sandboxed program (they all run /code/main.py)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if b"/code/main.py" in Path(f"/proc/{d}/cmdline").read_bytes():
                    out.append(int(d))
            except OSError:
                pass
    return out


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=2, memory_mb=4096) as p:  # the production worker memory limit
        yield p


def _run(pool, code: str, gold: str, name: str = "code_stdout", **meta):
    meta.setdefault("wall_s", WALL)
    [v] = pool.map([(name, _block(code), gold, meta)], timeout_s=6.0)
    assert not _sandbox_procs(), "a sandboxed process outlived its run"
    return v


def test_sandbox_runs_plain_code(pool):
    v = _run(pool, "print(6 * 7)", "42")
    assert v.status == "ok" and v.correct and v.score == 1.0


def test_planted_file_is_readable_on_host_but_not_inside(pool, tmp_path):
    gold = "SECRET-GOLD-7919"
    planted = tmp_path / "gold_answer.txt"
    planted.write_text(gold)
    assert planted.read_text() == gold  # the host can read it
    code = f"""
import os, glob
found = []
for p in [{str(planted)!r}, {str(REPO / 'README.md')!r}, "/etc/passwd", "/etc/shadow", "/root/.bash_history",
          "/proc/1/root{planted}", "/proc/1/environ"]:
    try:
        found.append(open(p, errors="replace").read())
    except OSError:
        pass
found += list(os.environ.values())
found += glob.glob("/home/*") + glob.glob("/root/*") + glob.glob("/work/*") + glob.glob("/tmp/*")
print({gold!r} if any({gold!r} in f or "rlvr" in f for f in found) else "nothing found: " + repr(sorted(os.environ)))
"""
    v = _run(pool, code, gold)
    assert v.status == "ok" and v.score == 0.0 and not v.correct
    assert v.extracted.startswith("nothing found")
    assert planted.read_text() == gold


def test_environment_is_not_inherited(monkeypatch):
    monkeypatch.setenv("RLVR_PLANTED_SECRET", "hunter2")  # an API key in the trainer's environment
    r = run_python("import os\nprint(sorted(os.environ))")
    assert r.status == "ok" and r.stdout.strip() == "['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']"


def test_network_is_unreachable(pool):
    srv = socket.create_server(("127.0.0.1", 0))  # a host service, e.g. a local inference server
    port = srv.getsockname()[1]
    code = f"""
import socket
import tempfile
got = []
for host, port in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection((host, port), timeout=0.5)
        got.append("CONNECTED")
    except OSError as e:
        got.append(type(e).__name__)
print(got)
"""
    v = _run(pool, code, "['CONNECTED', 'CONNECTED', 'CONNECTED']")
    assert v.status == "ok" and v.score == 0.0 and "CONNECTED" not in v.extracted
    srv.setblocking(False)
    with pytest.raises(BlockingIOError):  # no connection ever reached the host's listening socket
        srv.accept()
    srv.close()


def test_fork_bomb_is_contained(pool):
    code = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    t0 = time.monotonic()
    v = _run(pool, code, "done")
    assert v.score == 0.0 and v.status == "timeout" and "wall-clock" in v.extracted
    assert time.monotonic() - t0 < WALL + 3


def test_process_limit_counts_only_this_sandbox():
    code = """
import os, time
n = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
    except OSError:
        break
print(n)
"""
    r = run_python(code, limits=SandboxLimits(processes=12, wall_s=10))
    assert r.status == "ok" and 5 <= int(r.stdout) <= 11  # 12 minus the program and bubblewrap's init
    assert not _sandbox_procs()  # the sleeping children died with the sandbox's pid namespace


def test_disk_fill_stays_in_a_small_tmpfs(pool):
    free0 = shutil.disk_usage("/").free
    code = """
import os
total = 0
for i in range(2048):  # try to write 2 GB
    try:
        with open(f"fill{i}", "wb") as f:
            f.write(b"x" * (1 << 20))
        total += 1
    except OSError:
        break
for d in ("/tmp", "/dev/shm", "/", "/usr", "/code"):
    try:
        open(os.path.join(d, "fill"), "wb").write(b"x" * (1 << 20))
        total += 10_000
    except OSError:
        pass
print("filled 2GB" if total >= 2048 else f"stopped at {total} MB")
"""
    v = _run(pool, code, "filled 2GB", disk_mb=16)
    assert v.status == "ok" and v.score == 0.0 and v.extracted in ("stopped at 15 MB", "stopped at 16 MB")
    assert free0 - shutil.disk_usage("/").free < 500 << 20  # the host disk did not absorb the attempt


def test_writes_and_deletes_outside_the_sandbox_fail(pool, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    targets = [tmp_path / "pwned", REPO / "pwned", Path("/tmp/rlvr-pwned"), Path("/usr/pwned")]
    code = f"""
import os, shutil
hits = 0
for p in {[str(t) for t in targets]!r} + ["/code/main.py"]:
    try:
        open(p, "w").write("pwned")
        hits += 1
    except OSError:
        pass
for p in [{str(victim)!r}, {str(REPO / 'README.md')!r}]:
    try:
        os.remove(p)
        hits += 1
    except OSError:
        pass
try:
    shutil.rmtree({str(tmp_path)!r})
    hits += 1
except OSError:
    pass
print("PWNED" if hits else "no write got through")
"""
    v = _run(pool, code, "PWNED")
    assert v.status == "ok" and v.score == 0.0 and v.extracted == "no write got through"
    assert victim.read_text() == "keep me" and (REPO / "README.md").is_file()
    assert not any(t.exists() for t in targets)


@pytest.mark.parametrize("code", [
    "while True:\n    pass",
    "import time\ntime.sleep(1000)",
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)",
    # daemonise: the parent exits at once, the grandchild hangs on (it must not outlive the run)
    "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\nprint('bye')",
], ids=["busy", "sleep", "ignore-sigterm", "daemonise"])
def test_hangs_are_cut_at_the_wall_clock(pool, code):
    t0 = time.monotonic()
    v = _run(pool, code, "42")
    assert v.score == 0.0 and time.monotonic() - t0 < WALL + 3
    assert v.status == ("ok" if "setsid" in code else "timeout")


def test_memory_limit_inside_the_pool_worker(pool):
    v = _run(pool, "x = bytearray(3 << 30)\nprint('allocated')", "allocated", memory_mb=256)
    assert v.score == 0.0 and "MemoryError" in v.extracted
    v = _run(pool, "print(len(bytearray(100 << 20)))", str(100 << 20), memory_mb=256)
    assert v.correct


# a training run picks other sandbox settings by registering a variant in its own verifier file (README)
FAST_VARIANT = """
import functools
from rlvr.rewards import register_verifier
from rlvr.rewards.code import code_stdout
from rlvr.rewards.sandbox import require_sandbox

register_verifier("t_code_fast", preflight=require_sandbox)(functools.partial(code_stdout, wall_s=1.0))
"""


def test_attacks_score_zero_and_are_counted_by_the_scorer(tmp_path):
    responses = ["while True:\n    pass",  # hang -> reward/timeouts
                 "import os\nos.kill(os.getpid(), 9)",  # killed by a signal -> reward/errors
                 "print(open('/etc/passwd').read())",  # reads nothing -> wrong
                 "print(6 * 7)"]  # the one honest program
    rollouts = [Rollout([1, 2], _block(c), [0.0, 0.0], "stop") for c in responses]
    group = Group(Prompt(id="p", text="print 42", answer="42"), rollouts)
    (tmp_path / "fast.py").write_text(FAST_VARIANT)
    cfg = RewardConfig(workers=2, timeout_s=6.0, modules=[str(tmp_path / "fast.py")])
    with RewardScorer({"t_code_fast": 1.0}, cfg) as scorer:  # the sandbox's 1 s wall clock cuts the hang
        m = scorer.score_groups([group])
    assert group.rewards == [0.0, 0.0, 0.0, 1.0]
    assert m["reward/timeouts"] == 1.0 and m["reward/errors"] == 1.0 and m["reward/t_code_fast"] == 0.25
    assert not _sandbox_procs()


def test_missing_bubblewrap_is_a_clear_error_and_runs_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    require_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match=r"bubblewrap.*not installed.*never run unsandboxed.*apt-get"):
            code_stdout(_block(f"open({str(marker)!r}, 'w').write('x')\nprint(1)"), "1")
        with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
            RewardScorer({"code_tests": 1.0}, RewardConfig(workers=1))  # fails before any rollout
    finally:
        require_sandbox.cache_clear()
    assert not marker.exists()


@pytest.mark.parametrize("script, match", [
    ("echo bubblewrap 0.6.1", r"bubblewrap 0\.6\.1 is too old.*>= 0\.8"),  # Ubuntu 22.04's
    ('[ "$1" = --version ] && echo bubblewrap 0.9.0 || { echo "bwrap: No permissions to creating new namespace, '
     'likely because the kernel does not allow non-privileged user namespaces" >&2; exit 1; }',
     r"cannot start the sandbox \(user namespaces look disabled.*seccomp=unconfined\).*never run unsandboxed"),
], ids=["too-old", "no-userns"])
def test_unusable_bubblewrap_is_a_clear_error(monkeypatch, script, match):
    """Machines this one is not: a fake `bwrap` first on PATH stands in for an old or namespace-less system."""
    tmp_path = Path(tempfile.mkdtemp(prefix="rlvr-fake-bwrap-"))
    tmp_path.chmod(0o755)  # runnable by `nobody`, as the real one is
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    require_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match=match):
            run_python("print(1)")
    finally:
        require_sandbox.cache_clear()
        shutil.rmtree(tmp_path)
