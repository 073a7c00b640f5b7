"""`rlvr verify --reward math --input FILE.jsonl --output OUT.jsonl [--timeout S] [--workers N]`

Reads rows with `response` and `answer`; writes every row back, in input order with all its fields, plus
`score`, `correct` (bool), `extracted` and `status` (ok / timeout / error). Exit 0 unless the input cannot be
read (then a clear error naming the file and line, exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CHUNK = 512  # rows per pool batch: progress is reported between chunks


def read_rows(path: str, fields: tuple[str, ...] = ("response", "answer")) -> list[dict]:
    """JSONL rows (the data loader's reader: bad JSON names file:line), each with string `fields`."""
    from rlvr.data.load import load_rows

    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    rows = load_rows(path)
    for row in rows:
        where = row.pop("_source")  # "name.jsonl:LINE", added by load_rows; not written back
        for k in fields:
            if k not in row:
                raise ValueError(f"{where}: missing field {k!r} (has: {', '.join(row) or 'none'})")
            if row[k] is None or isinstance(row[k], (dict, list)):
                raise ValueError(f"{where}: field {k!r} must be a string, got {row[k]!r}"[:300])
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="rlvr verify", description=__doc__.split("\n\n")[1])
    ap.add_argument("--reward", default="math", help="registered verifier name (default: math)")
    ap.add_argument("--input", required=True, help="JSONL with `response` and `answer` per row")
    ap.add_argument("--output", required=True, help="JSONL written with score/correct/extracted/status added")
    ap.add_argument("--timeout", type=float, default=5.0, help="hard per-item deadline in seconds (default 5)")
    ap.add_argument("--workers", type=int, default=2, help="verifier worker processes (default 2)")
    ap.add_argument("--modules", nargs="*", default=[], help="extra verifier files / modules to import")
    args = ap.parse_args(argv)

    try:
        rows = read_rows(args.input)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        sys.exit(f"rlvr verify: {e}")

    from rlvr.rewards.pool import VerifierPool
    from rlvr.rewards.registry import VERIFIERS, load_builtins, load_modules, preflight

    load_builtins()
    load_modules(args.modules)
    try:
        VERIFIERS.get(args.reward)
        preflight(args.reward)
    except KeyError as e:
        sys.exit(f"rlvr verify: {e.args[0]}")
    except RuntimeError as e:  # SandboxUnavailable: say why and how to install, score nothing
        sys.exit(f"rlvr verify: {e}")
    tasks = [(args.reward, str(r["response"]), str(r["answer"]), {"truncated": r.get("finish_reason") == "length"})
             for r in rows]
    t0, verdicts = time.monotonic(), []
    with VerifierPool(args.workers, args.modules) as pool:
        for start in range(0, len(tasks), CHUNK):
            verdicts += pool.map(tasks[start:start + CHUNK], args.timeout)
            if len(tasks) > CHUNK:
                rate = len(verdicts) / max(time.monotonic() - t0, 1e-9)
                print(f"verified {len(verdicts)}/{len(tasks)} ({rate:.0f} items/s)", file=sys.stderr, flush=True)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for row, v in zip(rows, verdicts):
            row.update(score=v.score, correct=bool(v.correct), extracted=v.extracted, status=v.status)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    n = max(len(verdicts), 1)
    counts = {s: sum(v.status == s for v in verdicts) for s in ("ok", "timeout", "error")}
    print(f"{len(verdicts)} rows -> {out}: accuracy {sum(v.correct for v in verdicts) / n:.4f}, "
          f"ok {counts['ok']}, timeout {counts['timeout']}, error {counts['error']}, "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
