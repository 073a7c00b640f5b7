"""`rlvr <command> ...`: one entry point; each command lives in its own module and is imported lazily."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("rlvr.train", "train a policy: rlvr train RECIPE.yaml [key=value ...]"),
    "eval": ("rlvr.eval.cli", "evaluate a checkpoint on AIME / MATH / ... (pass@k, avg@n, maj@k)"),
    "verify": ("rlvr.rewards.cli", "score a JSONL of responses with a verifier"),
    "algorithms": ("rlvr.algorithms.cli", "list the algorithm components: settings, defaults, inputs, papers"),
    "plot": ("rlvr.plot", "plot a run directory's metrics (PNG)"),
    "tiny-model": ("rlvr.models.tiny", "build a tiny Qwen2 model + tokenizer locally"),
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
        msg = "usage: rlvr <command> [args]\n\ncommands:\n" + "\n".join(lines)
        if argv and argv[0] not in ("-h", "--help"):
            sys.exit(f"rlvr: unknown command {argv[0]!r}\n\n{msg}")
        print(msg)
        return
    module, _ = COMMANDS[argv[0]]
    importlib.import_module(module).main(argv[1:])


if __name__ == "__main__":
    main()
