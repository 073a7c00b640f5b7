"""Verifier throughput: MATH-500 reference answers written as model responses, scored by
  (a) a plain single-process math-verify loop (parse + verify with its default SIGALRM timeouts), and
  (b) rlvr's pool (verify_math_batch) at several worker counts,
then the same with 1% adversarial items mixed in (power towers, 50-deep braces, 100 kB responses).
The plain loop on the adversarial mix runs in a subprocess capped at --baseline-cap seconds: SIGALRM cannot
interrupt a single long C call (a huge integer power), so it may not finish at all.

    python scripts/bench/bench_verify.py [--workers 1 2] [--timeout 5] [--baseline-cap 120]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time

ADVERSARIAL = [
    "\\boxed{10^{10^{10^{10}}}}",
    "\\boxed{" + "{" * 50 + "1" + "}" * 50 + "}",
    "so " * 33_000 + "the answer is \\boxed{7}",  # ~100 kB
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{(10^{10^{8}})!}",
]


def load_items(n: int) -> list[tuple[str, str]]:
    from rlvr.data import load_rows

    rows = load_rows("math500", limit=n)
    return [(f"Working through the problem step by step ... so the answer is \\boxed{{{r['answer']}}}.", r["answer"])
            for r in rows]


def with_adversarial(items: list[tuple[str, str]], frac: float = 0.01, seed: int = 0) -> list[tuple[str, str]]:
    rng, out = random.Random(seed), list(items)
    k = max(1, round(frac * len(items)))
    for j in range(k):
        out.insert(rng.randrange(len(out) + 1), (ADVERSARIAL[j % len(ADVERSARIAL)], "1"))
    return out


def plain_loop(items: list[tuple[str, str]]) -> tuple[float, int]:
    """What most RL repos do: math-verify in the trainer process, one item at a time."""
    from math_verify import parse, verify

    t0, correct = time.perf_counter(), 0
    for response, gold in items:
        try:
            correct += bool(verify(parse("\\boxed{" + gold + "}"), parse(response)))
        except BaseException:  # noqa: B036 -- its TimeoutException is a BaseException
            pass
    return time.perf_counter() - t0, correct


def _plain_child(items, q) -> None:
    q.put(plain_loop(items))


def plain_loop_capped(items, cap_s: float) -> tuple[float | None, int | None]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_plain_child, args=(items, q), daemon=True)
    t0 = time.perf_counter()
    p.start()
    p.join(cap_s)
    if p.is_alive():
        p.kill()
        p.join()
        return None, None
    secs, correct = q.get()
    return time.perf_counter() - t0, correct


def pool_run(items, workers: int, timeout_s: float) -> tuple[float, int, dict, float]:
    from rlvr.rewards import VerifierPool

    t_start = time.perf_counter()
    with VerifierPool(workers) as pool:
        pool.map([("math", "\\boxed{1}", "1", {})] * workers, timeout_s)  # warm: all workers ready
        startup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        out = pool.map([("math", r, g, {}) for r, g in items], timeout_s)
        secs = time.perf_counter() - t0
    status = {s: sum(v.status == s for v in out) for s in ("ok", "timeout", "error")}
    return secs, sum(v.correct for v in out), status, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="MATH-500 items (default all)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--timeout", type=float, default=5.0, help="pool per-item deadline (s)")
    ap.add_argument("--baseline-cap", type=float, default=120.0, help="wall-clock cap of the plain loop on the mix")
    args = ap.parse_args()

    clean = load_items(args.n)
    mixed = with_adversarial(clean)
    print(f"# {len(clean)} MATH-500 golds as responses; mix adds {len(mixed) - len(clean)} adversarial items; "
          f"{os.cpu_count()} CPUs; pool deadline {args.timeout:g}s")
    base_s, base_ok = plain_loop(clean)
    base_rate = len(clean) / base_s
    print(f"plain loop   clean : {base_rate:7.1f} items/s  ({base_s:6.1f}s, {base_ok}/{len(clean)} correct)")
    for w in args.workers:
        secs, ok, status, startup = pool_run(clean, w, args.timeout)
        print(f"pool w={w:<2}   clean : {len(clean) / secs:7.1f} items/s  ({secs:6.1f}s, {ok}/{len(clean)} correct, "
              f"{status}, start-up {startup:.1f}s)  x{len(clean) / secs / base_rate:.2f} vs plain")
    mix_s, mix_ok = plain_loop_capped(mixed, args.baseline_cap)
    if mix_s is None:
        print(f"plain loop   mixed : did not finish within {args.baseline_cap:g}s (killed)")
    else:
        print(f"plain loop   mixed : {len(mixed) / mix_s:7.1f} items/s  "
              f"({mix_s:6.1f}s incl. ~1s spawn, {mix_ok} correct)")
    for w in args.workers:
        secs, ok, status, _ = pool_run(mixed, w, args.timeout)
        ratio = "" if mix_s is None else f"  x{mix_s / secs:.2f} vs plain"
        print(f"pool w={w:<2}   mixed : {len(mixed) / secs:7.1f} items/s  ({secs:6.1f}s, {ok}/{len(clean)} correct, "
              f"{status}){ratio}")


if __name__ == "__main__":
    sys.exit(main())
