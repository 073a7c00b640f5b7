"""Math verifier accuracy on a hard, mixed set (tests/data/math_hard.jsonl: nested / padded answers, deadline
bait, repeating decimals, intervals as inequalities, constants and imaginary units, several boxes, hedges,
thousands separators, a mixed bag), rlvr's `math` verifier vs plain math-verify side by side, per category.
Then the bundled MATH-500 / AIME / Minerva golds verified against themselves and against their reference
solutions (the solution's final boxed answer), with the exceptions listed.

    python scripts/bench/bench_verify_hard.py [--workers 2] [--timeout 5] [--plain-timeout 30] [--no-golds]

Last line: `rlvr_acc=X plain_math_verify_acc=Y n=N` on the hard set. A verdict that does not come within the
deadline counts as "incorrect" (for plain math-verify the deadline is only a cap on what its own alarms miss).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARD = REPO / "tests" / "data" / "math_hard.jsonl"
PLAIN = str(Path(__file__).with_name("plain_math_verify.py"))
GOLD_SETS = ("math500", "aime24", "aime25", "minerva")


def hard_cases() -> list[dict]:
    return [json.loads(line) for line in HARD.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_cases() -> list[dict]:
    """Each gold as `\\boxed{gold}` (must verify) and each reference solution against its gold (must verify)."""
    from rlvr.data import BENCHMARKS, load_rows
    from rlvr.data.load import row_field

    out = []
    for name in GOLD_SETS:
        for row in load_rows(name):
            gold = row_field(row, BENCHMARKS[name][1], "answer")
            out.append({"id": row["id"], "category": f"gold_self/{name}", "response": f"\\boxed{{{gold}}}",
                        "gold": gold, "expected": True})
            if row.get("solution"):
                out.append({"id": row["id"], "category": f"gold_vs_solution/{name}", "response": row["solution"],
                            "gold": gold, "expected": True})
    return out


def score(cases: list[dict], name: str, workers: int, timeout_s: float, modules=()) -> list[bool]:
    """Verdict == expected, per case (a timeout or error is the verdict "incorrect")."""
    from rlvr.rewards import VerifierPool

    with VerifierPool(workers, list(modules)) as pool:
        verdicts = pool.map([(name, c["response"], c["gold"], {}) for c in cases], timeout_s)
    return [(v.status == "ok" and v.correct) == c["expected"] for c, v in zip(cases, verdicts)], verdicts


def table(cases, ours, plain) -> None:
    by = defaultdict(list)
    for c, a, b in zip(cases, ours, plain):
        by[c["category"]].append((a, b))
    print(f"{'category':<28} {'n':>5} {'rlvr':>8} {'plain math-verify':>18}")
    for cat, rows in by.items():
        n = len(rows)
        print(f"{cat:<28} {n:>5} {sum(a for a, _ in rows) / n:>8.1%} {sum(b for _, b in rows) / n:>18.1%}")
    n = len(cases)
    print(f"{'all':<28} {n:>5} {sum(ours) / n:>8.1%} {sum(plain) / n:>18.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0, help="rlvr pool deadline per item (s)")
    ap.add_argument("--plain-timeout", type=float, default=30.0, help="cap per item for plain math-verify (s)")
    ap.add_argument("--no-golds", action="store_true", help="skip the benchmark-gold checks")
    ap.add_argument("--show-misses", action="store_true", help="print every case rlvr gets wrong")
    args = ap.parse_args()

    cases = hard_cases()
    t0 = time.perf_counter()
    ours, ours_v = score(cases, "math", args.workers, args.timeout)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain, _ = score(cases, "plain_math_verify", args.workers, args.plain_timeout, [PLAIN])
    t_plain = time.perf_counter() - t0
    print(f"# hard set: {len(cases)} cases ({HARD.relative_to(REPO)}); rlvr {t_ours:.1f}s, plain {t_plain:.1f}s")
    table(cases, ours, plain)
    for batch, tag in (("batch 1 (written with the normaliser)", ""), ("batch 2 (written blind)", "[batch 2]"),
                       ("batch 3 (written blind, after)", "[batch 3]")):
        idx = [i for i, c in enumerate(cases) if (tag in c["why"] if tag else "[batch" not in c["why"])]
        print(f"{batch:<40} n={len(idx)}: rlvr {sum(ours[i] for i in idx) / len(idx):.1%}, "
              f"plain {sum(plain[i] for i in idx) / len(idx):.1%}")
    if args.show_misses:
        for c, ok, v in zip(cases, ours, ours_v):
            if not ok:
                print(f"  MISS {c['id']}: expected {c['expected']} got {v.correct} ({v.status}) "
                      f"extracted={str(v.extracted)[:80]!r} gold={c['gold']!r} why={c['why']!r}")
    if not args.no_golds:
        golds = gold_cases()
        g_ours, g_v = score(golds, "math", args.workers, args.timeout)
        g_plain, _ = score(golds, "plain_math_verify", args.workers, args.plain_timeout, [PLAIN])
        print(f"\n# bundled golds: {len(golds)} checks")
        table(golds, g_ours, g_plain)
        for c, ok, v in zip(golds, g_ours, g_v):
            if not ok:
                print(f"  exception {c['category']} {c['id']}: gold {c['gold']!r}, rlvr read {v.extracted!r} "
                      f"({v.status})")
    print(f"rlvr_acc={sum(ours) / len(cases):.4f} plain_math_verify_acc={sum(plain) / len(cases):.4f} n={len(cases)}")


if __name__ == "__main__":
    sys.exit(main())
