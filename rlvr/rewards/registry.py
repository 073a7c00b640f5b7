"""Verifier registry: a verifier is one small function registered by name.

    @register_verifier("regex")
    def regex_answer(response: str, answer: str, **meta) -> float | dict

It returns a float score, or a dict with `score` (and optionally `correct`, `extracted`). `meta` carries
`truncated`, `prompt_id`, `task` and the reward config's `correct_reward` / `incorrect_reward`; ignore what you
do not need. User verifiers live in any file or module named in `reward.modules`; they are imported by the
trainer and by every pool worker, and run in the pool (a crash or hang scores 0, is counted, never stops training).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from rlvr.registry import Registry, load_user_modules

Verifier = Callable[..., Any]
VERIFIERS: Registry[Verifier] = Registry("verifier")
_INLINE: set[str] = set()  # trusted, regex-only verifiers that run in the caller (no IPC round trip)
_PREFLIGHT: dict[str, Callable[[], Any]] = {}  # name -> check that raises when the verifier cannot work here


def register_verifier(name: str, *, inline: bool = False,
                      preflight: Optional[Callable[[], Any]] = None) -> Callable[[Verifier], Verifier]:
    """Register `fn` under `name`. `inline=True` skips the worker pool: only for cheap code you trust.
    `preflight` is called once by the scorer before training (e.g. "is the code sandbox installed?"); it raises
    with a clear message when the verifier cannot work on this machine."""

    def deco(fn: Verifier) -> Verifier:
        VERIFIERS.register(name)(fn)
        if inline:
            _INLINE.add(name)
        if preflight is not None:
            _PREFLIGHT[name] = preflight
        return fn

    return deco


def is_inline(name: str) -> bool:
    return name in _INLINE


def preflight(name: str) -> None:
    """Run `name`'s preflight check, if it registered one (raises when the verifier cannot work here)."""
    if name in _PREFLIGHT:
        _PREFLIGHT[name]()


def load_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Import verifier modules: `path/to/file.py` (relative to the working directory) or a dotted module name."""
    load_user_modules(modules, key="reward.modules", prefix="rlvr_user_verifiers")


def load_builtins() -> None:
    """Import the built-in verifiers (math, format, code, examples) so their names are registered."""
    import rlvr.rewards.code  # noqa: F401
    import rlvr.rewards.examples  # noqa: F401
    import rlvr.rewards.format  # noqa: F401
    import rlvr.rewards.math  # noqa: F401


@dataclass
class Verdict:
    score: float  # reward of this verifier for this item (unweighted)
    correct: bool  # verifier's correctness judgement (score > 0 when the verifier gives none)
    extracted: Optional[str]  # the answer it read, for logs / maj@k
    status: str = "ok"  # ok | timeout | error (set by the pool, or by a verifier whose sandboxed program hung/died)


STATUSES = ("ok", "timeout", "error")


def to_verdict(ret: Any) -> Verdict:
    """A verifier's return value (float / bool / dict / Verdict) as a Verdict; raises TypeError otherwise.
    A dict may carry `status` ("timeout" / "error") to have the item counted in reward/timeouts / reward/errors."""
    if isinstance(ret, Verdict):
        return ret
    if isinstance(ret, dict):
        if "score" not in ret:
            raise TypeError(f"verifier returned a dict without 'score': {sorted(ret)}")
        score = float(ret["score"])
        correct = bool(ret["correct"]) if "correct" in ret else score > 0
        ext, status = ret.get("extracted"), ret.get("status", "ok")
        if status not in STATUSES:
            raise TypeError(f"verifier returned status {status!r}; expected one of {STATUSES}")
        return Verdict(score, correct, None if ext is None else str(ext)[:500], status)
    if isinstance(ret, (bool, int, float)):
        return Verdict(float(ret), float(ret) > 0, None)
    raise TypeError(f"verifier must return a float or a dict with 'score', got {type(ret).__name__}")
