"""Build the CPU demo's base policy (tiny Qwen2 + tokenizer + SFT on imperfect demos) and its task data.

    python scripts/build_demo_policy.py .cache/demo/policy [--seed 0] [--eval] [--set sft_steps=800 ...]

Writes OUT_DIR with the HF model + tokenizer, train.jsonl and heldout.jsonl (rows: id, problem, answer) and
demo_policy.json; a rebuild with the same arguments returns at once. --eval prints held-out avg@8 / pass@8.
"""
from __future__ import annotations

import argparse
import ast
import time

from rlvr.demo.policy import DEFAULTS, build_demo_policy, sample_accuracy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval", action="store_true", help="print held-out avg@8 and pass@8 (temperature 1.0)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help=f"override one of {sorted(DEFAULTS)}")
    a = p.parse_args()
    overrides = {}
    for kv in a.set:
        key, _, value = kv.partition("=")
        if key not in DEFAULTS:
            p.error(f"--set {key}: unknown key; known: {sorted(DEFAULTS)}")
        overrides[key] = type(DEFAULTS[key])(ast.literal_eval(value) if not isinstance(DEFAULTS[key], str) else value)
    t0 = time.time()
    out = build_demo_policy(a.out_dir, seed=a.seed, **overrides)
    print(f"demo policy: {out} ({time.time() - t0:.0f}s)")
    if a.eval:
        print(sample_accuracy(out, k=8, limit=200))


if __name__ == "__main__":
    main()
