"""RewardScorer: scores rollout groups with the weighted verifiers of a recipe, plus overlong shaping.

    scorer = RewardScorer(weights=cfg.rewards, cfg=cfg.reward, max_response_len=cfg.rollout.max_tokens)
    metrics = scorer.score_groups(groups)   # fills group.rewards / acc / reward_parts / extracted

reward  = sum_name weight[name] * part[name] + overlong_penalty(len)   (what advantages use)
acc     = math correctness when `math` is a part, else (weighted parts) > 0  (what dynamic sampling filters on;
          kept apart from shaping, DAPO: "acc" not the shaped score -- algorithms.md section 3)
"""
from __future__ import annotations

import dataclasses

import logging
from typing import TYPE_CHECKING, Optional, Sequence

from rlvr.rewards.pool import VerifierPool, shared_pool
from rlvr.rewards.registry import VERIFIERS, Verdict, is_inline, load_builtins, load_modules, preflight, to_verdict
from rlvr.rewards.shaping import overlong_penalty

if TYPE_CHECKING:  # rlvr.types imports torch; pool workers import this package and must stay light
    from rlvr.config import RewardConfig
    from rlvr.types import Group, Prompt

log = logging.getLogger(__name__)


def _inline(name: str, response: str, answer: str, meta: dict) -> Verdict:
    try:
        return to_verdict(VERIFIERS.get(name)(response, answer, **meta))
    except Exception as e:  # a buggy inline verifier is counted like a pooled one
        return Verdict(0.0, False, f"{type(e).__name__}: {e}", "error")


class RewardScorer:
    def __init__(self, weights: dict[str, float], cfg: Optional["RewardConfig"] = None, max_response_len: int = 1024):
        from rlvr.config import RewardConfig

        self.cfg = cfg or RewardConfig()
        self.weights, self.max_response_len = dict(weights), max_response_len
        self.code = dataclasses.asdict(self.cfg.code)  # the sandbox limits, for the code verifiers
        load_builtins()
        load_modules(self.cfg.modules)
        for name in self.weights:
            VERIFIERS.get(name)  # unknown name -> KeyError listing the known verifiers
            preflight(name)  # e.g. code verifiers: bubblewrap missing -> SandboxUnavailable, before any rollout
        self.pool: Optional[VerifierPool] = None  # started now if any part runs in workers, else on check_golds
        if not all(is_inline(name) for name in self.weights):
            self.pool = self._pool()

    def _pool(self) -> VerifierPool:
        if self.pool is None:
            c = self.cfg
            self.pool = VerifierPool(c.workers, c.modules, c.worker_memory_mb, c.start_method)
        return self.pool

    def _meta(self, prompt: "Prompt", truncated: bool) -> dict:
        return {"truncated": truncated, "prompt_id": prompt.id, "task": prompt.task,
                "correct_reward": self.cfg.correct_reward, "incorrect_reward": self.cfg.incorrect_reward,
                **self.code}

    def _verdicts(self, groups: Sequence["Group"]) -> dict[tuple[int, int, str], Verdict]:
        """One Verdict per (group, rollout, part); pooled parts go through the pool in one batch."""
        out, tasks, keys = {}, [], []
        for gi, g in enumerate(groups):
            for ri, r in enumerate(g.rollouts):
                meta = self._meta(g.prompt, r.truncated)
                for name in self.weights:
                    if is_inline(name):
                        out[gi, ri, name] = _inline(name, r.response_text, g.prompt.answer, meta)
                    else:
                        tasks.append((name, r.response_text, g.prompt.answer, meta))
                        keys.append((gi, ri, name))
        for key, v in zip(keys, self._pool().map(tasks, self.cfg.timeout_s) if tasks else []):
            if v.status != "ok" and key[2] == "math":  # a hang must never beat a wrong answer (DAPO: -1)
                v.score = self.cfg.incorrect_reward
            out[key] = v
        return out

    def score_groups(self, groups: Sequence["Group"]) -> dict[str, float]:
        """Fill rewards / acc / reward_parts / extracted of each group; return `reward/*` metrics."""
        verdicts = self._verdicts(groups)
        c = self.cfg
        sums = {name: 0.0 for name in self.weights}
        total = acc_sum = over_sum = 0.0
        n = timeouts = errors = overlong_n = 0
        for gi, g in enumerate(groups):
            g.rewards, g.acc, g.extracted = [], [], []
            g.reward_parts = {name: [] for name in self.weights}
            if c.overlong_buffer > 0:
                g.reward_parts["overlong"] = []
            for ri, r in enumerate(g.rollouts):
                vs = {name: verdicts[gi, ri, name] for name in self.weights}
                parts = sum(self.weights[k] * v.score for k, v in vs.items())
                pen = overlong_penalty(len(r.response_ids), self.max_response_len, c.overlong_buffer,
                                       c.overlong_penalty)
                acc = float(vs["math"].correct) if "math" in vs else float(parts > 0)
                main = vs["math"] if "math" in vs else next(iter(vs.values()))
                g.rewards.append(parts + pen)
                g.acc.append(acc)
                g.extracted.append(main.extracted if main.status == "ok" else None)
                for k, v in vs.items():
                    g.reward_parts[k].append(v.score)
                    sums[k] += v.score
                    timeouts += v.status == "timeout"
                    errors += v.status == "error"
                if c.overlong_buffer > 0:
                    g.reward_parts["overlong"].append(pen)
                total, acc_sum, over_sum, n = total + parts + pen, acc_sum + acc, over_sum + pen, n + 1
                overlong_n += pen < 0
        n = max(n, 1)
        metrics = {f"reward/{k}": s / n for k, s in sums.items()}
        metrics.update({"reward/total": total / n, "reward/acc": acc_sum / n, "reward/timeouts": float(timeouts),
                        "reward/errors": float(errors), "reward/overlong_frac": overlong_n / n,
                        "reward/overlong": over_sum / n})
        return metrics

    def check_golds(self, prompts: Sequence["Prompt"]) -> None:
        """Raise ValueError naming every prompt whose gold the math verifier cannot use (run at data load)."""
        if "math" not in self.weights:
            return
        where = [f"{p.meta['_source']} (id {p.id})" if "_source" in p.meta else f"id {p.id}" for p in prompts]
        bad = check_golds([p.answer for p in prompts], where, pool=self._pool(), timeout_s=self.cfg.timeout_s)
        if bad:
            shown = "\n  ".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
            raise ValueError(f"{len(bad)} gold answer(s) cannot be verified "
                             f"(they would never or always score):\n  {shown}")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def __enter__(self) -> "RewardScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_golds(answers: Sequence[str], sources: Sequence[str], pool: Optional[VerifierPool] = None,
                timeout_s: float = 5.0, workers: int = 2) -> list[str]:
    """`source: answer: reason` for each gold that is empty, unparseable, or does not verify against itself
    written as `\\boxed{gold}`. Distinct golds are checked once."""
    pool = pool or shared_pool(workers)
    uniq = list(dict.fromkeys(answers))
    verdicts = dict(zip(uniq, pool.map([("gold_check", a, a, {}) for a in uniq], timeout_s)))
    bad = []
    for a, src in zip(answers, sources):
        v = verdicts[a]
        if not (v.status == "ok" and v.correct):
            bad.append(f"{src}: answer {a!r}: {v.extracted if v.status == 'ok' else v.status + ' ' + str(v.extracted)}")
    return bad


def verify_math_batch(responses: Sequence[str], answers: Sequence[str], timeout_s: float = 5.0, workers: int = 2,
                      truncated: Optional[Sequence[bool]] = None, progress=None) -> list[Verdict]:
    """Score responses against golds with the `math` verifier in the shared pool (correct = 1.0, else 0.0)."""
    if len(responses) != len(answers):
        raise ValueError(f"verify_math_batch: {len(responses)} responses but {len(answers)} answers")
    flags = truncated or [False] * len(responses)
    tasks = [("math", r, a, {"truncated": t}) for r, a, t in zip(responses, answers, flags)]
    return shared_pool(workers).map(tasks, timeout_s, progress)


def math_equivalent_batch(pairs: Sequence[tuple[str, str]], timeout_s: float = 5.0, workers: int = 2) -> list[bool]:
    """Are two extracted answers the same (eval's maj@k grouping)? A timeout or error counts as different."""
    verdicts = shared_pool(workers).map([("math_equiv", a, b, {}) for a, b in pairs], timeout_s)
    return [v.status == "ok" and v.correct for v in verdicts]
