"""`rlvr algorithms [--modules my_algos.py ...] [--kind loss ...]`: every registered component with its
settings (defaults, one-line docs), declared inputs and the paper it implements."""
from __future__ import annotations

import argparse
from typing import Optional


def main(argv: Optional[list[str]] = None) -> None:
    from rlvr.algorithms import PRESETS, describe, load_modules
    from rlvr.algorithms.components import KINDS

    p = argparse.ArgumentParser(prog="rlvr algorithms", description=__doc__)
    p.add_argument("--modules", nargs="*", default=[], help="user files / modules to import first (as algorithm.modules)")
    p.add_argument("--kind", nargs="*", choices=KINDS, default=list(KINDS), help="only these stages")
    a = p.parse_args(argv)
    load_modules(a.modules)
    print(describe(a.kind))
    print("Presets (algorithm.preset): " + ", ".join(PRESETS))
    print("Settings go under the component's name: algorithm: {loss: NAME, NAME: {SETTING: value}}, or "
          "algorithm.NAME.SETTING=value on the command line.")


if __name__ == "__main__":
    main()
