"""Peak memory and time of chunked log-prob + entropy (forward + backward) vs full fp32 logits.

    python scripts/bench/bench_logprobs.py [--T 512 2048] [--V 151936] [--H 896] [--chunk 1024] [--naive-max-T 2048]

Qwen2.5-0.5B head shape by default (V=151936, H=896). Each (mode, T) runs in a fresh subprocess; peak memory is
ru_maxrss minus the RSS after the inputs are allocated (so it is the extra memory of the log-prob path).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def worker(mode: str, T: int, V: int, H: int, chunk: int) -> dict:
    import torch

    from rlvr.learner.logprobs import chunked_logprobs

    torch.manual_seed(0)
    hidden = (torch.randn(T, H) * 0.5).requires_grad_(True)  # [T, H]
    weight = (torch.randn(V, H) * 0.02).requires_grad_(True)  # [V, H]
    targets = torch.randint(0, V, (T,))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if mode == "chunked":
        lp, ent = chunked_logprobs(hidden, weight, targets, temperature=0.7, chunk=chunk)
    else:
        logp = torch.log_softmax((hidden @ weight.t()).float() / 0.7, -1)  # [T, V] full fp32 logits
        lp = logp.gather(-1, targets[:, None]).squeeze(-1)
        ent = -(logp.exp() * logp).sum(-1)
    (lp.sum() + 0.01 * ent.sum()).backward()
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"mode": mode, "T": T, "time_s": dt, "peak_extra_mb": (peak - base) / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--V", type=int, default=151936)
    p.add_argument("--H", type=int, default=896)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--naive-max-T", type=int, default=2048, help="skip full logits above this T (memory)")
    p.add_argument("--worker", nargs=2, metavar=("MODE", "T"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], int(a.worker[1]), a.V, a.H, a.chunk)))
        return
    rows = []
    for T in a.T:
        for mode in ("chunked", "naive"):
            if mode == "naive" and T > a.naive_max_T:
                continue
            cmd = [sys.executable, __file__, "--worker", mode, str(T), "--V", str(a.V), "--H", str(a.H),
                   "--chunk", str(a.chunk)]
            rows.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
            r = rows[-1]
            print(f"{mode:8s} T={T:6d} V={a.V} H={a.H} chunk={a.chunk}: fwd+bwd {r['time_s']:7.2f} s, "
                  f"peak extra {r['peak_extra_mb']:9.1f} MB", flush=True)
    for T in a.T:
        by = {r["mode"]: r for r in rows if r["T"] == T}
        if len(by) == 2:
            print(f"T={T}: memory naive/chunked = {by['naive']['peak_extra_mb'] / max(by['chunked']['peak_extra_mb'], 1):.1f}x, "
                  f"time chunked/naive = {by['chunked']['time_s'] / by['naive']['time_s']:.2f}x")


if __name__ == "__main__":
    main()
