"""Run model-written Python in a bubblewrap sandbox (https://github.com/containers/bubblewrap).

A policy under RL pressure will, sooner or later, try to read the gold answer from disk, delete files, phone home
or fork-bomb the host. So model-written code never runs unsandboxed: `run_python` raises `SandboxUnavailable`
(with the install command) when bubblewrap is missing or cannot create namespaces; there is no fallback.

What the program sees (each run is a fresh set of namespaces: user, mount, pid, network, ipc, uts, cgroup):
  * filesystem: read-only /usr (+ the /bin, /lib* links), the interpreter's own prefix, /etc/ld.so.cache, a
    minimal /dev and its own /proc; the root is read-only. No home, no project, no /etc, no /tmp of the host.
    The only writable place is the working directory /work, a size-capped tmpfs that vanishes with the run
    (nothing is ever written to the host's disk). The program is /code/main.py, copied in from a memfd.
  * network: a new network namespace with only loopback (host services on 127.0.0.1 are not reachable).
  * environment: cleared; only PATH, HOME=/work, TMPDIR=/work, LANG are set. The interpreter runs with `-I`.
  * identity: an unprivileged uid. When the trainer runs as root, bubblewrap is started as `nobody`
    (RLIMIT_NPROC does not apply to uid 0, so root would make the process limit void).
  * limits (RLIMIT_*, set by util-linux `prlimit` inside the sandbox): CPU seconds, address space, largest file
    (also caps stdout / stderr, which are memfds), open files, no core dumps, and processes. The process limit is
    set *inside* the sandbox's own user namespace, where the kernel (>= 5.14) counts only this run's processes,
    so concurrent sandboxes never starve each other. Wall time is enforced here: at the deadline the whole process
    group is SIGKILLed, and bubblewrap's `--die-with-parent` + the pid namespace take every descendant with it.
"""
from __future__ import annotations

import functools
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

INSTALL_HINT = ("install bubblewrap: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu), `sudo dnf install "
                "bubblewrap` (Fedora/RHEL) or `scripts/setup.sh` as root")
NOBODY = 65534  # the sandbox uid when the caller is root
MIN_BWRAP = (0, 8)  # --size (0.7) and --disable-userns (0.8)
_MERGED_USR = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here; model code is then never run."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 5.0  # wall-clock limit of one run (the whole process group is killed at it)
    cpu_s: int = 5  # RLIMIT_CPU per process, seconds
    memory_mb: int = 512  # RLIMIT_AS per process (Python itself needs ~30 MB)
    file_mb: int = 16  # RLIMIT_FSIZE: largest file the program may write, stdout and stderr included
    disk_mb: int = 32  # size of the writable /work tmpfs (memory-backed, gone after the run)
    processes: int = 16  # RLIMIT_NPROC inside the sandbox's user namespace (threads count too)
    open_files: int = 64  # RLIMIT_NOFILE
    output_chars: int = 1 << 20  # stdout / stderr read back at most this much
    interpreter: str = ""  # Python to run the code with; "" = this Python's base interpreter (see _interpreter)


@dataclass
class RunResult:
    status: str  # ok (exited 0) | exit (non-zero exit) | signal (killed by a limit) | timeout (wall clock)
    returncode: Optional[int]
    stdout: str
    stderr: str
    wall_s: float


def _traversable_by_others(path: str) -> bool:
    """Can an unrelated uid (the sandbox's `nobody`) reach and read `path`? Every ancestor needs o+x."""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        st = os.stat(os.sep.join(parts[:i]) or os.sep)
        need = stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else stat.S_IROTH
        if not st.st_mode & need:
            return False
    return True


def _interpreter(requested: str) -> tuple[str, str]:
    """(interpreter path, prefix to bind). Default: the base interpreter of this Python (not its venv, whose
    site-packages may point into the project). When bubblewrap must run as `nobody` and that interpreter lives
    in an unreadable home (pyenv under /root), the system python3 is used instead."""
    candidates = [requested] if requested else [os.path.join(sys.base_prefix, "bin", "python3"),
                                                "/usr/bin/python3", "/usr/local/bin/python3"]
    for cand in candidates:
        exe = shutil.which(cand) if os.sep not in cand else cand
        if not exe or not os.path.isfile(exe):
            continue
        exe = os.path.realpath(exe)
        if os.geteuid() == 0 and not _traversable_by_others(exe):
            continue
        return exe, os.path.dirname(os.path.dirname(exe))
    raise SandboxUnavailable(f"no Python interpreter the sandbox user can read among {candidates}; "
                             f"set the verifier's `interpreter` to a world-readable python3")


def _root_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for p in _MERGED_USR:  # merged-/usr systems: /lib -> usr/lib symlinks; older ones: real directories
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            args += ["--ro-bind", p, p]
    if os.path.isfile("/etc/ld.so.cache"):  # the loader's index of /usr/lib (no secrets in it)
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def sandbox_argv(lim: SandboxLimits, code_fd: int, info_fd: int) -> list[str]:
    """bwrap + prlimit + python command line; the program is read from `code_fd`; bwrap writes the host pid of
    the sandbox's pid-1 to `info_fd`."""
    exe, prefix = _interpreter(lim.interpreter)
    bwrap, prlimit = _tools()
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/work",
            "--setenv", "TMPDIR", "/work", "--setenv", "LANG", "C.UTF-8", "--hostname", "sandbox",
            "--info-fd", str(info_fd)]
    args += _root_binds()
    if not (prefix == "/usr" or prefix.startswith("/usr/")):
        args += ["--ro-bind", prefix, prefix]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(lim.disk_mb << 20), "--tmpfs", "/work",
             "--ro-bind-data", str(code_fd), "/code/main.py", "--remount-ro", "/dev", "--remount-ro", "/",
             "--chdir", "/work", "--"]
    args += [prlimit, f"--cpu={lim.cpu_s}", f"--as={lim.memory_mb << 20}",
             f"--fsize={lim.file_mb << 20}", f"--nofile={lim.open_files}", f"--nproc={lim.processes}",
             "--core=0", "--"]
    return args + [exe, "-I", "/code/main.py"]


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name)  # an anonymous file: nothing on the host's disk, gone when closed
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read(fd: int, limit: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, limit).decode("utf-8", errors="replace")


def _launch(argv: list[str], stdin: int, stdout: int, stderr: int, keep: tuple[int, ...]) -> subprocess.Popen:
    drop = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=keep, env={},
                            start_new_session=True, **drop)


def _pid1(info_fd: int) -> Optional[int]:
    """Host pid of the sandbox's pid-1, which bwrap writes to --info-fd once it has started it."""
    try:
        return json.loads(_read(info_fd, 4096) or "{}").get("child-pid")
    except json.JSONDecodeError:
        return None


def _finish(proc: subprocess.Popen, info_fd: int, kill: bool) -> None:
    """Return only when every process of the sandbox is gone. SIGKILL to the sandbox's pid-1 makes the kernel kill
    its whole pid namespace, and pid-1 exits only after all of it has; so waiting for pid-1 (a pidfd) is waiting
    for the last process. Also after a normal exit: bwrap exits as soon as the program does, while pid-1 is still
    killing stragglers (a daemonised grandchild). Kills happen before `proc` is reaped, so bwrap's pid (the group
    id) cannot have been reused, and pid-1 is bwrap's own child."""
    pid1 = _pid1(info_fd)
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid1) if pid1 else None
    except ProcessLookupError:
        pass
    if kill:
        try:
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:  # no pid-1 yet (bwrap still setting up): the process group, bwrap included
                os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if pidfd is not None:
        ready = select.poll()
        ready.register(pidfd, select.POLLIN)
        if not ready.poll(10_000) and kill:  # cannot happen short of a kernel bug; never leave bwrap behind
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(pidfd)
    proc.wait()


def run_python(code: str, stdin: str = "", limits: SandboxLimits = SandboxLimits()) -> RunResult:
    """Run `code` with `stdin` in a fresh sandbox (see module docstring). Raises SandboxUnavailable only when the
    sandbox cannot be created at all; anything the program does is a RunResult."""
    require_sandbox(limits.interpreter)
    return _run(code, stdin, limits)


def _run(code: str, stdin: str, limits: SandboxLimits) -> RunResult:
    fds = [_memfd("code", code.encode()), _memfd("stdin", stdin.encode()), _memfd("stdout"), _memfd("stderr"),
           _memfd("info")]
    t0 = time.monotonic()
    try:
        proc = _launch(sandbox_argv(limits, fds[0], fds[4]), fds[1], fds[2], fds[3], keep=(fds[0], fds[4]))
        try:
            rc: Optional[int] = proc.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            rc = None
        _finish(proc, fds[4], kill=rc is None)
        out, err = _read(fds[2], limits.output_chars), _read(fds[3], limits.output_chars)
    finally:
        for fd in fds:
            os.close(fd)
    wall = time.monotonic() - t0
    if rc is None:
        return RunResult("timeout", None, out, err, wall)
    # bwrap exits with the program's status, or 128 + signal number when a limit's signal killed it
    status = "ok" if rc == 0 else "signal" if rc > 128 or rc < 0 else "exit"
    return RunResult(status, rc, out, err, wall)


def _tools() -> tuple[str, str]:
    """Absolute paths of bwrap and prlimit (prlimit runs inside the sandbox: it must live under /usr or /bin)."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit", path="/usr/bin:/bin")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (`bwrap`) is not installed, and model-written code is never run "
                                 f"unsandboxed; {INSTALL_HINT}")
    if prlimit is None:
        raise SandboxUnavailable("util-linux `prlimit` is missing from /usr/bin and /bin; install util-linux")
    return os.path.realpath(bwrap), prlimit


@functools.lru_cache(maxsize=None)
def require_sandbox(interpreter: str = "") -> str:
    """Check once per process that the sandbox works (a trivial program prints `ok`); return the bwrap version.
    Raises SandboxUnavailable with the reason and the install command otherwise."""
    bwrap, _ = _tools()
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()
    found = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
    if found < MIN_BWRAP:
        raise SandboxUnavailable(f"{version or 'bwrap'} is too old: the sandbox needs bubblewrap >= 0.8 (--size caps "
                                 f"the writable tmpfs, --disable-userns); Debian 12, Ubuntu 24.04 and Fedora ship "
                                 f"one, Ubuntu 22.04 ships 0.6 (build it from github.com/containers/bubblewrap)")
    try:
        run = _run("print('ok')", "", SandboxLimits(interpreter=interpreter, wall_s=30.0))
    except OSError as e:  # e.g. bwrap not executable by the sandbox user
        raise SandboxUnavailable(f"cannot execute {bwrap}: {e}; model-written code is never run unsandboxed") from e
    out, err = run.stdout.strip(), run.stderr.strip()[:2000]
    if out != "ok":
        hint = ""
        if "namespace" in err or "Operation not permitted" in err or "Permission denied" in err:
            hint = (" (user namespaces look disabled: check the sysctls user.max_user_namespaces, "
                    "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns; in Docker the "
                    "default seccomp profile blocks them: --security-opt seccomp=unconfined)")
        raise SandboxUnavailable(f"bubblewrap ({version}) cannot start the sandbox{hint}: {err or out!r}; "
                                 f"model-written code is never run unsandboxed")
    return version
