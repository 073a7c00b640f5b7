"""Fault report: every fault of issue 10 on the tiny recipe, for real (torchrun, DeepSpeed/gloo, SIGKILL,
a full tmpfs), printed as a table: fault | outcome | seconds to exit | data intact. Last line:
`faults_survived=K/N`.

    python scripts/bench/bench_faults.py                 # all faults (~5-10 min on 2 CPU cores)
    python scripts/bench/bench_faults.py --only lost_rank disk_full

A fault is survived when the run ends the way it should (a clear message, the right exit code, within the
bound) and its data are intact (metrics.jsonl consecutive and parseable, the checkpoints it keeps match
their manifests, resumed steps equal the uninterrupted run's). tests/integration/test_faults.py runs the same
scenarios and asserts on their details. "seconds to exit" is measured from the fault (the kill, the freeze,
the second launch, the first metrics row of the run that fails) to the faulted process's exit; for the faults
that end in a resume (kill during a save, damaged checkpoint) it is the resuming run's whole wall time
(model load included); changed config and untrusted files: the wall time of the refused resume.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "tiny" / "grpo.yaml"
# The exact-resume setting of tests/integration/test_train.py: a dense verifier so that updates are non-zero.
TRAINS = ("seed=7", "learner.lr=1e-3", "rewards={digit_frac: 1.0}",
          "reward.modules=[tests/integration/shaped_verifier.py]", "checkpoint.export_hf=false",
          "logging.tensorboard=false")


@dataclasses.dataclass
class Result:
    fault: str
    outcome: str
    seconds: float
    intact: bool
    survived: bool
    detail: dict = dataclasses.field(default_factory=dict)


class Faults:
    """One scenario per fault; a shared reference run (3 steps, a checkpoint after each) for resume checks."""

    def __init__(self, workdir: Path, model: Path):
        self.dir, self.model = Path(workdir), Path(model)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ref: Optional[Path] = None

    # ---------------------------------------------------------------------------------------- scenarios

    def lost_rank(self) -> Result:
        """torchrun, 2 ranks: SIGKILL rank 1 mid-run; rank 0 must exit naming it."""
        out = self.dir / "lost_rank"
        proc = self._popen(out, "max_steps=50", "checkpoint.save_every=1", "checkpoint.keep_last=1", nproc=2)
        self._wait_rows(proc, out, 2)
        t0 = time.monotonic()
        os.kill(self._rank_pid(proc, 1), signal.SIGKILL)
        text, rc = self._finish(proc, 120)
        secs = time.monotonic() - t0
        named = "rank 1 (pid" in text and "is gone" in text
        ok = named and rc != 0 and secs < 60
        return Result("rank killed mid-step (torchrun, 2 ranks)",
                      f"rank 0 exits {_code(text, 0)}: '{_grep(text, r'rank 1 [(]pid .*? is gone: its process exited')}'",
                      secs, self._intact(out), ok,
                      {"output": text, "rc": rc})

    def lost_node_rank(self) -> Result:
        """torchrun --nnodes 2 (c10d rendezvous), one rank per node; the second node runs in its own pid
        namespace, so no pid can be checked across them - as on two machines. SIGKILL the rank of one node."""
        if shutil.which("unshare") is None or subprocess.run(
                ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True).returncode:
            return Result("rank killed on another node (--nnodes 2)", "skipped: needs unshare (pid namespaces)",
                          0.0, True, False, {"skipped": True})
        out, port = self.dir / "lost_node_rank", _free_port()
        nodes = [self._popen(out, "max_steps=50", "checkpoint.save_every=1", "checkpoint.keep_last=1",
                             nproc=1, nnodes=(n, port), wrap=["unshare", "--pid", "--fork", "--mount-proc"] if n else [])
                 for n in (0, 1)]
        self._wait_rows(nodes[0], out, 2)
        ranks = {r: self._rank_pid(node, r) for node in nodes for r in (0, 1) if self._has_rank(node, r)}
        t0 = time.monotonic()
        os.kill(ranks[1], signal.SIGKILL)
        texts = [self._finish(node, 120) for node in nodes]
        secs = time.monotonic() - t0
        text = "\n".join(t for t, _ in texts)
        named = f"rank 1 (pid {ranks[1]} on" in text and "stopped responding" in text
        return Result("rank killed on another node (--nnodes 2)",
                      f"rank 0 (other node) names it: '{_grep(text, r'rank 1 [(]pid .*? no heartbeat for [0-9]+ s')}'",
                      secs, self._intact(out), named and secs < 60, {"output": text})

    def hung_rank(self) -> Result:
        """torchrun, 2 ranks: SIGSTOP rank 1 (alive, silent - a frozen process or a vanished node)."""
        out = self.dir / "hung_rank"
        proc = self._popen(out, "max_steps=50", "checkpoint.save_every=0", "learner.heartbeat_timeout_s=10",
                           nproc=2)
        self._wait_rows(proc, out, 1)
        frozen, survivor = self._rank_pid(proc, 1), self._rank_pid(proc, 0)
        t0 = time.monotonic()
        os.kill(frozen, signal.SIGSTOP)
        secs = _wait_gone(survivor, 120) - t0
        os.kill(frozen, signal.SIGKILL)  # what torchrun does 30 s after the survivor's exit; spares the wait
        text, rc = self._finish(proc, 120)
        ok = "rank 1 (pid" in text and "stopped responding" in text and secs < 60
        return Result("rank frozen (SIGSTOP), heartbeat 10 s",
                      f"rank 0 exits {_code(text, 0)}: '{_grep(text, r'rank 1 [(]pid .*? no heartbeat for [0-9]+ s')}'", secs,
                      self._intact(out), ok, {"output": text, "rc": rc})

    def collective_timeout(self) -> Result:
        """The same freeze with the heartbeat off: the collective timeout (20 s) is the backstop."""
        out = self.dir / "collective_timeout"
        proc = self._popen(out, "max_steps=50", "checkpoint.save_every=0", "learner.heartbeat_timeout_s=0",
                           "learner.collective_timeout_s=20", nproc=2)
        self._wait_rows(proc, out, 1)
        frozen, survivor = self._rank_pid(proc, 1), self._rank_pid(proc, 0)
        t0 = time.monotonic()
        os.kill(frozen, signal.SIGSTOP)
        secs = _wait_gone(survivor, 180) - t0
        os.kill(frozen, signal.SIGKILL)
        text, rc = self._finish(proc, 120)
        ok = "Timed out waiting 20000ms" in text and 20 <= secs < 90
        return Result("rank frozen, heartbeat off, collective_timeout_s=20",
                      f"rank 0 exits {_code(text, 0)}: gloo '{_grep(text, r'Timed out waiting [0-9]+ms')}'", secs,
                      self._intact(out), ok,
                      {"output": text, "rc": rc})

    def kill_in_save(self) -> Result:
        """SIGKILL while step 2's checkpoint is half written; resume=auto must redo steps 2-3 exactly."""
        ref, out = self.reference(), self.dir / "kill_in_save"
        proc = self._popen(out, "max_steps=3", "checkpoint.save_every=1", "checkpoint.keep_last=3",
                           env={"RLVR_FAULT_INJECT": "kill_in_save:2"})
        text, rc = self._finish(proc, 600)
        leftover = sorted(p.name for p in (out / "checkpoints").iterdir())
        t0 = time.monotonic()
        resumed, rc2 = self._run(out, "max_steps=3", "checkpoint.save_every=1", "checkpoint.keep_last=3",
                                 "resume=auto")
        secs = time.monotonic() - t0
        same, diff = _same_rows(out, ref)
        ok = rc == -signal.SIGKILL and rc2 == 0 and "resumed from" in resumed and "step-1 at step 1" in resumed
        return Result("SIGKILL during a checkpoint write",
                      f"killed with {leftover}; resumed from step-1, steps 2-3 max |diff| {diff:.1e}", secs,
                      same and self._intact(out), ok and same,
                      {"leftover": leftover, "resumed": resumed, "rc": rc, "rc2": rc2, "max_diff": diff})

    def corrupt_latest(self) -> Result:
        """Truncate a DeepSpeed shard of the latest checkpoint (step 3), resume=auto with one key changed."""
        out = self._copy_ref("corrupt_latest")
        shard = out / "checkpoints" / "step-3" / "deepspeed" / "state" / "mp_rank_00_model_states.pt"
        with open(shard, "r+b") as f:
            f.truncate(shard.stat().st_size // 2)
        t0 = time.monotonic()
        text, rc = self._run(out, "max_steps=3", "checkpoint.save_every=1", "checkpoint.keep_last=3",
                             "resume=auto", "reward.timeout_s=6.0")
        secs = time.monotonic() - t0
        same, diff = _same_rows(out, self.reference())
        fell_back = "mp_rank_00_model_states.pt" in text and "resuming from" in text and "step-2 at step 2" in text
        ok = rc == 0 and fell_back
        return Result("truncated latest checkpoint (resume=auto)",
                      f"warned naming the file, fell back to step-2, step 3 max |diff| {diff:.1e}", secs,
                      same and self._intact(out), ok and same, {"output": text, "rc": rc, "max_diff": diff})

    def changed_config(self) -> Result:
        """Resume with changed keys: a warning listing them (old -> new); a ZeRO stage change fails clearly."""
        out = self._copy_ref("changed_config")
        t0 = time.monotonic()
        bad, rc_bad = self._run(out, "resume=auto", "max_steps=3", "learner.zero_stage=3")
        secs = time.monotonic() - t0
        text, rc = self._run(out, "resume=auto", "max_steps=4", "checkpoint.save_every=1", "checkpoint.keep_last=3",
                             "reward.timeout_s=6.0", "learner.lr=0.002")
        warned = all(k in text for k in ("max_steps: 3 -> 4", "reward.timeout_s: 5.0 -> 6.0", "learner.lr: 0.001 -> 0.002"))
        refused = rc_bad == 1 and "learner.zero_stage: 2 -> 3" in bad
        return Result("resume with a changed config",
                      "warned: max_steps, reward.timeout_s, learner.lr; zero_stage 2->3 refused", secs,
                      self._intact(out), warned and refused and rc == 0,
                      {"output": text, "refused": bad, "rc": rc, "rc_bad": rc_bad})

    def disk_full(self) -> Result:
        """output_dir on a 14 MiB tmpfs: step 1's checkpoint fits, step 2's does not."""
        mnt = self.dir / "disk_full"
        mnt.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=14m", "tmpfs", str(mnt)]).returncode:
            return Result("disk full while saving", "skipped: mounting a small tmpfs needs root", 0.0, True, False,
                          {"skipped": True})
        try:
            out = mnt / "run"
            proc = self._popen(out, "max_steps=3", "checkpoint.save_every=1", "checkpoint.keep_last=3")
            self._wait_rows(proc, out, 2)
            t0 = time.monotonic()
            text, rc = self._finish(proc, 300)
            secs = time.monotonic() - t0
            kept = [p.name for p in sorted((out / "checkpoints").iterdir())]
            intact = self._intact(out) and kept == ["latest", "step-1"]
            ok = rc == 1 and "the disk is full" in text and "step-2 failed" in text
            return Result("disk full while saving", f"exit {rc}: 'step-2 failed ... {_grep(text, r'[0-9.]+ MiB free of .*')}',"
                          f" step-1 kept", secs, intact, ok and intact, {"output": text, "rc": rc, "kept": kept})
        finally:
            subprocess.run(["umount", str(mnt)])

    def second_run(self) -> Result:
        """A second run into the output_dir of a live one refuses (lock file); the first is unharmed."""
        out = self.dir / "second_run"
        first = self._popen(out, "max_steps=50", "checkpoint.save_every=0")
        self._wait_rows(first, out, 1)
        config = (out / "config.yaml").read_text()
        t0 = time.monotonic()
        text, rc = self._run(out, "max_steps=2", "resume=auto")
        secs = time.monotonic() - t0
        rows_before = len(_rows(out))
        self._wait_rows(first, out, rows_before + 1)  # the first run keeps training
        first.send_signal(signal.SIGTERM)  # preemption path: finish the step, checkpoint, exit 0
        text1, rc1 = self._finish(first, 300)
        refused = rc == 1 and "is in use by another run" in text and f"pid {first.pid}" in text
        intact = self._intact(out) and (out / "config.yaml").read_text() == config
        return Result("second run into the same output_dir",
                      f"second exits {rc}: 'is in use by another run (pid {first.pid} ...)'; first runs on, exits {rc1}",
                      secs, intact, refused and rc1 == 0 and intact, {"output": text, "rc": rc, "rc_first": rc1})

    def nan_steps(self) -> Result:
        """A verifier returning NaN: every loss is NaN, every update skipped; stop after 3 in a row."""
        out = self.dir / "nan_steps"
        proc = self._popen(out, "max_steps=20", "checkpoint.save_every=1", "checkpoint.keep_last=1",
                           "max_skipped_steps=3", "rewards={always_nan: 1.0}",
                           "reward.modules=[tests/integration/nan_verifier.py]")
        self._wait_rows(proc, out, 1)
        t0 = time.monotonic()
        text, rc = self._finish(proc, 300)
        secs = time.monotonic() - t0
        ok = rc == 1 and "steps 1-3: every update was skipped" in text and [r["step"] for r in _rows(out)] == [1, 2, 3]
        return Result("every step NaN (max_skipped_steps=3)",
                      f"exit {rc}: '{_grep(text, r'steps 1-3: every update was skipped [(][^)]*[)]')}'",
                      secs, self._intact(out), ok, {"output": text, "rc": rc})

    def untrusted_files(self) -> Result:
        """Checkpoint files that would run code when unpickled, and a model dir with remote code: refused."""
        out = self._copy_ref("untrusted_files")
        marker = self.dir / "PWNED"
        step3 = out / "checkpoints" / "step-3"
        optim = step3 / "deepspeed" / "state" / "zero_pp_rank_0_mp_rank_00_optim_states.pt"
        optim.write_bytes(pickle.dumps(_Exploit(marker)))
        from rlvr import checkpoint

        checkpoint.write_manifest(step3)  # an attacker rewrites the manifest too: it must not be the only guard
        t0 = time.monotonic()
        text, rc = self._run(out, f"resume={step3}", "max_steps=3")
        secs = time.monotonic() - t0
        refused_pickle = rc == 1 and str(optim) in text and not marker.exists()
        remote = _remote_code_refused(self.model, self.dir / "remote_code", marker)
        return Result("untrusted pickle / remote code", f"DeepSpeed shard refused (exit {rc}), remote code "
                      f"{'refused' if remote else 'RAN'}", secs, not marker.exists(), refused_pickle and remote,
                      {"output": text, "rc": rc})

    # ------------------------------------------------------------------------------------------ helpers

    def reference(self) -> Path:
        """An uninterrupted 3-step run with a checkpoint after every step (built once)."""
        if self._ref is None:
            out = self.dir / "reference"
            text, rc = self._run(out, "max_steps=3", "checkpoint.save_every=1", "checkpoint.keep_last=3")
            if rc != 0:
                raise RuntimeError(f"reference run failed:\n{text[-4000:]}")
            self._ref = out
        return self._ref

    def _copy_ref(self, name: str) -> Path:
        out = self.dir / name
        shutil.copytree(self.reference(), out)
        return out

    def _cmd(self, out: Path, overrides: tuple, nproc: int, nnodes: Optional[tuple[int, int]]) -> list[str]:
        head = [sys.executable, "-m", "rlvr.train"]
        if nnodes is not None:  # (node rank, rendezvous port): one agent per "node", c10d rendezvous
            head = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(nnodes[0]),
                    "--nproc_per_node", str(nproc), "--rdzv_backend", "c10d", "--rdzv_id", "faults",
                    "--rdzv_endpoint", f"127.0.0.1:{nnodes[1]}", "-m", "rlvr.train"]
        elif nproc > 1:
            head = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                    "--master_port", str(_free_port()), "-m", "rlvr.train"]
        return head + [str(RECIPE), f"output_dir={out}", f"model.path={self.model}", *TRAINS, *overrides]

    def _popen(self, out: Path, *overrides: str, nproc: int = 1, env: Optional[dict] = None,
               nnodes: Optional[tuple[int, int]] = None, wrap: tuple = ()) -> subprocess.Popen:
        log = open(self.dir / f"{out.name}-{time.monotonic_ns()}.log", "w+")
        cmd = [*wrap, *self._cmd(out, overrides, nproc, nnodes)]
        proc = subprocess.Popen(cmd, cwd=REPO, env={**_env(), **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        return proc

    def _run(self, out: Path, *overrides: str, timeout: float = 600) -> tuple[str, int]:
        return self._finish(self._popen(out, *overrides), timeout)

    @staticmethod
    def _finish(proc: subprocess.Popen, timeout: float) -> tuple[str, int]:
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        proc.log.seek(0)  # type: ignore[attr-defined]
        text = proc.log.read()  # type: ignore[attr-defined]
        proc.log.close()  # type: ignore[attr-defined]
        return text, rc

    @staticmethod
    def _wait_rows(proc: subprocess.Popen, out: Path, n: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "metrics.jsonl").exists() and len(_rows(out)) >= n:
                return
            time.sleep(0.1)
        proc.log.seek(0)  # type: ignore[attr-defined]
        raise RuntimeError(f"no {n} metric rows in {out} (rc {proc.poll()}):\n{proc.log.read()[-4000:]}")

    @staticmethod
    def _has_rank(proc: subprocess.Popen, rank: int) -> bool:
        try:
            Faults._rank_pid(proc, rank, wait=5)
            return True
        except RuntimeError:
            return False

    @staticmethod
    def _rank_pid(proc: subprocess.Popen, rank: int, wait: float = 60) -> int:
        """The pid (in our pid namespace) of the worker with RANK=rank under the launcher `proc`."""
        import psutil

        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if child.environ().get("RANK") == str(rank) and "rlvr.train" in " ".join(child.cmdline()):
                        return child.pid
                except psutil.Error:
                    continue
            time.sleep(0.2)
        raise RuntimeError(f"no rank {rank} under pid {proc.pid}")

    @staticmethod
    def _intact(out: Path) -> bool:
        """metrics.jsonl parses and counts 1..k; every kept checkpoint matches its manifest; `latest` resolves."""
        from rlvr import checkpoint

        steps = [r["step"] for r in _rows(out)] if (out / "metrics.jsonl").exists() else []
        kept = checkpoint.complete_checkpoints(out)
        return (steps == list(range(1, len(steps) + 1)) and all(not checkpoint.verify(p) for p in kept)
                and (not kept or checkpoint.latest(out) in kept))


class _Exploit:
    """Unpickling this runs `touch marker`: what a malicious checkpoint file does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _remote_code_refused(model: Path, where: Path, marker: Path) -> bool:
    """A model dir whose config maps to custom code (that would touch `marker`): rlvr's loaders refuse it."""
    from rlvr.config import Config
    from rlvr.rollout import make_engine

    shutil.copytree(model, where, dirs_exist_ok=True)
    (where / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                   "from transformers import Qwen2Config\nclass EvilConfig(Qwen2Config):\n"
                                   "    model_type = 'evil'\n")
    cfg_json = json.loads((where / "config.json").read_text())
    cfg_json.update(model_type="evil", auto_map={"AutoConfig": "evil.EvilConfig"})
    (where / "config.json").write_text(json.dumps(cfg_json))
    cfg = Config()
    cfg.model.path, cfg.rollout.backend = str(where), "hf"
    try:
        make_engine(cfg).close()
    except Exception:  # noqa: BLE001 - transformers refuses: trust_remote_code is off
        return not marker.exists()
    return False


def _rows(out: Path) -> list[dict]:
    from rlvr.tracking import read_metrics

    return read_metrics(out)


def _same_rows(out: Path, ref: Path) -> tuple[bool, float]:
    """Resumed run vs the uninterrupted one, every metric but timings: (equal up to 1e-4 rel, max |diff|)."""
    got, want = _rows(out), _rows(ref)
    if [r["step"] for r in got][: len(want)] != [r["step"] for r in want]:
        return False, float("inf")
    worst, same = 0.0, True
    for g, w in zip(got, want):
        for k, v in w.items():
            if k.startswith("perf/") or k.endswith("_per_s"):
                continue
            if v is None or g.get(k) is None:
                same &= v is None and g.get(k) is None
                continue
            d = abs(g[k] - v)
            worst = max(worst, d)
            same &= d <= 1e-5 + 1e-4 * abs(v)
    return same, worst


def _env() -> dict:
    env = dict(os.environ)
    env.update(TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               VLLM_CPU_KVCACHE_SPACE="1", VLLM_ENABLE_V1_MULTIPROCESSING="0",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.pop("RLVR_FAULT_INJECT", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_gone(pid: int, timeout: float) -> float:
    """Monotonic time at which process `pid` has exited (or the timeout)."""
    import psutil

    try:
        psutil.Process(pid).wait(timeout)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired):
        pass
    return time.monotonic()


def _grep(text: str, pattern: str) -> str:
    """The last match of `pattern` in a run's output (for the table)."""
    hits = re.findall(pattern, text)
    return hits[-1] if hits else f"(no {pattern!r})"


def _code(text: str, rank: int) -> str:
    """Exit code of `rank` from torchrun's failure summary."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if f"rank      : {rank} " in ln and i + 1 < len(lines) and "exitcode" in lines[i + 1]:
            return lines[i + 1].split(":")[1].split()[0]
    return "?"


SCENARIOS: dict[str, Callable[[Faults], Result]] = {
    "lost_rank": Faults.lost_rank, "lost_node_rank": Faults.lost_node_rank, "hung_rank": Faults.hung_rank, "collective_timeout": Faults.collective_timeout,
    "kill_in_save": Faults.kill_in_save, "corrupt_latest": Faults.corrupt_latest,
    "changed_config": Faults.changed_config, "disk_full": Faults.disk_full, "second_run": Faults.second_run,
    "nan_steps": Faults.nan_steps, "untrusted_files": Faults.untrusted_files,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", choices=list(SCENARIOS), help="run only these faults")
    p.add_argument("--model", default=str(REPO / ".cache" / "tiny-qwen2"), help="tiny model (built if missing)")
    p.add_argument("--workdir", default=None, help="keep run directories here (default: a temp dir, removed)")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    from rlvr.models.tiny import build_tiny_model

    model = build_tiny_model(Path(args.model))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rlvr-faults-"))
    faults, results = Faults(work, model), []
    try:
        for name in args.only or SCENARIOS:
            try:
                results.append(SCENARIOS[name](faults))
            except Exception as e:  # noqa: BLE001 - a scenario that cannot even run is a fault not survived
                traceback.print_exc()
                results.append(Result(name, f"harness error: {type(e).__name__}: {str(e)[:80]}", 0.0, False, False))
            r = results[-1]
            print(f"{r.fault}: {'survived' if r.survived else 'NOT survived'} ({r.seconds:.1f} s)", file=sys.stderr)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(r.fault) for r in results)
    print(f"| {'fault':<{width}} | outcome | seconds to exit | data intact |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for r in results:
        print(f"| {r.fault:<{width}} | {r.outcome} | {r.seconds:.1f} | {'yes' if r.intact else 'NO'} |")
    print(f"faults_survived={sum(r.survived for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
