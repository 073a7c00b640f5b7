"""Split placement: asynchronous off-policy training in one torchrun job, no Ray.

Ranks 0..R-1 only generate (a rollout engine each, the verifier pool, a disjoint prompt shard); ranks R..W-1
are the DeepSpeed learner. Policy version v = the number of updates the weights have had (the model at load is
version 0); the update of step s turns version s-1 into s.

Orders (the learner decides, through the store; a rollout rank follows):
  * at the start of step s the learner opens step s + k (k = async.max_staleness): one generation batch of it
    may be made now, from weights of version >= s - 1 = (s + k) - 1 - k. So every token it trains on at step s
    is at most k versions old, by construction; the learner still checks each group (older -> dropped,
    counted), which is also what becomes of samples of a run killed mid-flight.
  * a step whose groups do not yet fill the batch after the group filters (DAPO dynamic sampling) gets one
    more generation batch ordered, up to algorithm.max_gen_batches, exactly as colocated; then it is closed.
  * k = 0 is synchronous: step s is opened only once version s - 1 exists. With one rollout and one learner rank
    it generates exactly what colocated one-rank training generates (same prompt order, seeds and weights), so
    the losses and metrics match step for step (tests/integration/test_split.py).
A rollout rank works through the open orders oldest first and, before each generation call (and between
segments with async.partial_rollouts), pulls the newest published weights: it stops generating only for the
copy. Each group carries the version of every token (Rollout.versions); the learner logs them
(output_dir/versions.jsonl) and the staleness per step (async/staleness_mean / _max).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Optional

import torch
import torch.distributed as dist

from rlvr.algorithms import GroupBuffer
from rlvr.config import Config
from rlvr.metrics import Max, Sum, combine
from rlvr.placement import Roles, sample_seed, sampling_params
from rlvr.placement.transport import BYE, GROUPS, Inbox, WeightBuffers, receive_weights

log = logging.getLogger("rlvr.split")


def _get(store, key: str) -> Optional[str]:
    return store.get(key).decode() if store.check([key]) else None


# ------------------------------------------------------------------------------------------ learner side


class StreamedRollouts:
    """The learner's source of groups in split placement (all learner ranks; rank 0 talks to the rollouts)."""

    def __init__(self, cfg: Config, roles: Roles, algo):
        self.cfg, self.roles, self.algo = cfg, roles, algo
        self.k, self.poll = cfg.async_.max_staleness, cfg.async_.poll_s
        self.lead = roles.index == 0
        self.learners = dist.get_world_size() if dist.is_initialized() else 1
        if cfg.rollout.num_prompts % self.learners:
            raise ValueError(f"rollout.num_prompts={cfg.rollout.num_prompts} must be divisible by the "
                             f"{self.learners} learner ranks")
        self.budget = cfg.algorithm.max_gen_batches if algo.filters else 1
        self.device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else \
            torch.device("cpu")
        self.buffers = WeightBuffers()
        self.inbox = Inbox(roles.ctl, roles.meta, roles.wts, self.buffers, roles.n_rollout, self.device) \
            if self.lead else None
        self.pending: dict[tuple[int, int], list[dict]] = {}
        self.rollout_states: dict[int, dict] = {}  # rollout rank -> sampler position after its last used shard
        self.entropy_stats = None
        self.opened = 0
        self.last_done: Optional[float] = None  # when the previous step's groups were handed to the learner
        self.versions: list[dict] = []  # per group of the last step: versions of its rollouts (versions.jsonl)

    def start(self, learner, step: int, state: Optional[dict]) -> None:
        """Resumed at `step` (0 = fresh): the rollout ranks get the weights of version `step` and continue their
        prompt streams where the last shard this run trained on left them."""
        if state:
            self.rollout_states = {int(r): s for r, s in state.get("rollout_states", {}).items()}
            self.entropy_stats = state.get("sampler_entropy_stats")
        if step > 0:
            self.sync(learner, step)
        if self.lead:
            self.roles.store.set("start", json.dumps({"step": step + 1, "states": self.rollout_states}))

    # ---------------------------------------------------------------------------------------- a step

    def batch(self, step: int, timer) -> tuple[list, dict]:
        with timer("rollout_wait"):
            parts = self._collect(step) if self.lead else None
        out: list = [None]
        if self.learners > 1:  # learner rank l trains on the l-th slice of the step's groups
            dist.scatter_object_list(out, parts, src=0)
        else:
            out = parts
        return out[0]

    def _collect(self, step: int) -> list[tuple[list, dict]]:
        store = self.roles.store
        for s in range(self.opened + 1, step + self.k + 1):  # open steps up to step + k
            store.set(f"order/{s}", "1")
        self.opened = max(self.opened, step + self.k)
        buffer = GroupBuffer(target=self.cfg.rollout.num_prompts, keep=self.algo.keep_group)
        shards, dropped, waited, t0 = [], 0, 0.0, time.perf_counter()
        while not buffer.full and (self.budget == 0 or buffer.gen_batches < self.budget):
            j = buffer.gen_batches
            if j > 0:
                store.set(f"order/{step}", str(j + 1))  # one more generation batch for this step
            t = time.perf_counter()
            got = self._gen_batch(step, j)
            waited += time.perf_counter() - t
            fresh = []
            for shard in got:
                for g in shard["groups"]:
                    if g.version is not None and step - 1 - g.version > self.k:
                        dropped += 1  # never trained on: older than the staleness bound
                    else:
                        fresh.append(g)
                self.rollout_states[shard["rank"]] = shard["sampler_state"]
            buffer.add(fresh)
            shards += got
        store.set(f"closed/{step}", "1")
        groups = buffer.take()
        busy = t0 - self.last_done if self.last_done is not None else 0.0  # the learner's own work since then
        self.last_done = time.perf_counter()
        metrics = {**combine(s["metrics"] for s in shards), **buffer.metrics(),
                   **self._async_metrics(step, groups, shards, dropped, waited, busy)}
        self.versions = [{"prompt_id": g.prompt.id, "learner_version": step - 1,
                          "versions": [[min(r.versions), max(r.versions)] if r.versions else None
                                       for r in g.rollouts]} for g in groups]
        per = len(groups) // self.learners
        return [(groups[i * per:(i + 1) * per], metrics if i == 0 else {}) for i in range(self.learners)]

    def _gen_batch(self, step: int, j: int) -> list[dict]:
        """Every rollout rank's shard of generation batch j of `step`, in rank order."""
        key = (step, j)
        while len(self.pending.get(key, [])) < self.roles.n_rollout:
            shard = self.inbox.get(timeout=max(self.poll, 0.05))
            if shard is not None:
                self.pending.setdefault((shard["step"], shard["gen_batch"]), []).append(shard)
        return sorted(self.pending.pop(key), key=lambda s: s["rank"])

    def _async_metrics(self, step, groups, shards, dropped, waited, learner_busy) -> dict:
        versions = [g.version for g in groups if g.version is not None]
        stale = [step - 1 - v for v in versions] or [0]
        busy = sum(s["busy_s"] + s["pull_s"] for s in shards)
        idle = sum(s["idle_s"] for s in shards)
        return {"async/staleness_mean": sum(stale) / len(stale), "async/staleness_max": Max(max(stale)),
                "async/dropped": Sum(dropped), "async/rollout_idle_frac": idle / max(idle + busy, 1e-9),
                "async/learner_idle_frac": waited / max(waited + learner_busy, 1e-9),
                "perf/weight_pull_s": sum(s["pull_s"] for s in shards) / len(shards)}

    def records(self) -> list[dict]:
        """Per group of the last step: the policy versions its rollouts were sampled with (versions.jsonl)."""
        return self.versions

    # ------------------------------------------------------------------------------------- weights out

    def sync(self, learner, step: int) -> None:
        """Publish the weights of version `step` (every learner rank iterates: ZeRO-3 gathers collectively)."""
        self.buffers.publish(step, learner.named_parameters_for_sync(self.cfg.rollout.sync_bucket_mb), self.lead)
        if self.lead:
            self.roles.store.set("stats", json.dumps(self.entropy_stats))
            self.roles.store.set("version", str(step))

    def set_entropy_stats(self, stats) -> None:
        self.entropy_stats = stats.to_dict() if stats is not None else None

    def eval(self, step: int) -> dict:
        raise NotImplementedError("eval.every with rollout.placement=split (rejected when the config loads)")

    def state_dict(self) -> dict:
        return {"rollout_states": self.rollout_states, "sampler_entropy_stats": self.entropy_stats} \
            if self.lead else {}

    def close(self, error: Optional[BaseException] = None) -> None:
        if self.lead:
            self.roles.store.set("stop", "error" if error else "done")
            if not error and not self.inbox.drain(timeout_s=300):
                log.warning("split placement: a rollout rank did not finish within 300 s of the stop signal")


# ------------------------------------------------------------------------------------------ rollout side


class _Clock:
    """Busy / idle seconds of a rollout rank since the last shard it sent."""

    def __init__(self) -> None:
        self.idle = self.busy = self.pull = 0.0

    def take(self) -> dict:
        out = {"idle_s": self.idle, "busy_s": self.busy, "pull_s": self.pull}
        self.idle = self.busy = self.pull = 0.0
        return out


class RolloutRank:
    """One rollout rank: follow the learner's orders, generate with the newest weights, score, send."""

    def __init__(self, cfg: Config, roles: Roles):
        from transformers import AutoTokenizer

        from rlvr.data import load_prompts
        from rlvr.data.sampler import PromptSampler
        from rlvr.rewards import RewardScorer
        from rlvr.rollout import make_engine

        self.cfg, self.roles, self.store = cfg, roles, roles.store
        self.r, self.k, self.poll = roles.index, cfg.async_.max_staleness, cfg.async_.poll_s
        self.tokenizer = AutoTokenizer.from_pretrained(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
        prompts = load_prompts(cfg.data, self.tokenizer)
        self.scorer = RewardScorer(weights=cfg.rewards, cfg=cfg.reward, max_response_len=cfg.rollout.max_tokens)
        self.scorer.check_golds(prompts)
        self.engine = make_engine(cfg, self.tokenizer, rank=self.r, world_size=roles.n_rollout)
        self.sampler = PromptSampler(prompts, cfg.seed, cfg.data.shuffle, self.r, roles.n_rollout)
        self.local = cfg.rollout.num_prompts // roles.n_rollout
        self.version = 0  # the engine holds model.path = version 0
        self.device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else \
            torch.device("cpu")
        self.clock = _Clock()

    def run(self) -> None:
        start = json.loads(self._wait("start"))
        step, j = start["step"], 0
        if str(self.r) in start["states"]:
            self.sampler.load_state_dict(start["states"][str(self.r)])
        if step > 1:  # resumed: the learner published the checkpoint's weights
            self._pull(step - 1)
        try:
            while _get(self.store, "stop") is None:
                n = _get(self.store, f"order/{step}")
                if n is not None and j < int(n):
                    self._pull(step - 1 - self.k)  # the staleness bound: wait for (at least) that version
                    self._send(step, j, self._generate(step, j))
                    j += 1
                elif n is not None and _get(self.store, f"closed/{step}") is not None:
                    step, j = step + 1, 0
                else:  # nothing to do: keep the weights fresh while waiting
                    t = time.perf_counter()
                    self._pull(None)
                    time.sleep(self.poll)
                    self.clock.idle += time.perf_counter() - t
        finally:
            self.close()

    def _wait(self, key: str) -> str:
        while (value := _get(self.store, key)) is None:
            time.sleep(self.poll)
        return value

    def _pull(self, need: Optional[int]) -> None:
        """Load the newest published weights if newer than ours; wait until at least version `need` exists."""
        t = time.perf_counter()
        while True:
            published = int(_get(self.store, "version") or 0)
            if need is None or published >= need:
                break
            time.sleep(self.poll)
        self.clock.idle += time.perf_counter() - t
        if published <= self.version:
            return
        t = time.perf_counter()
        r = self.roles
        version, buckets = receive_weights(r.ctl, r.meta, r.wts, self.device)
        self.engine.wake()
        for bucket in buckets:
            self.engine.load_weights(bucket)
        self.engine.finish_sync()
        stats = json.loads(_get(self.store, "stats") or "null")
        if stats:
            from rlvr.rollout import EntropyStats

            self.engine.set_entropy_stats(EntropyStats(**stats))
        self.version = version
        self.clock.pull += time.perf_counter() - t

    def _generate(self, step: int, j: int) -> tuple[list, dict]:
        t = time.perf_counter()
        cfg = self.cfg
        sampling = sampling_params(cfg, sample_seed(cfg.seed, step, self.r, j))
        prompts = self.sampler.next(self.local)
        if cfg.async_.partial_rollouts:
            groups = generate_segmented(self.engine, prompts, cfg.rollout.group_size, sampling,
                                        cfg.async_.segment_tokens, self, self.tokenizer)
        else:
            groups = self.engine.generate(prompts, cfg.rollout.group_size, sampling)
            for g in groups:
                for r in g.rollouts:
                    r.versions = [self.version] * len(r.response_ids)
        metrics = self.scorer.score_groups(groups)
        self.clock.busy += time.perf_counter() - t
        return groups, metrics

    def _send(self, step: int, j: int, result: tuple[list, dict]) -> None:
        groups, metrics = result
        shard = {"step": step, "gen_batch": j, "rank": self.r, "groups": groups, "metrics": metrics,
                 "sampler_state": self.sampler.state_dict(), **self.clock.take()}
        self.roles.ctl.send((GROUPS, shard), 0)

    def close(self) -> None:
        try:
            self.roles.ctl.send((BYE, None), 0)
        except Exception:  # noqa: BLE001 -- the learner may be gone already
            pass
        self.scorer.close()
        self.engine.close()


def run_rollout_rank(cfg: Config, roles: Roles) -> dict:
    RolloutRank(cfg, roles).run()
    return {}


# -------------------------------------------------------------------------------------- partial rollouts


def generate_segmented(engine, prompts, group_size: int, sampling, segment: int, rank: "RolloutRank",
                       tokenizer) -> list:
    """Generate in segments of `segment` tokens; between segments pull newer weights, so in-flight responses
    continue on them (async.partial_rollouts). Every token records the version that sampled it. A stop string
    split across a segment boundary ends the response at the end of that segment."""
    from rlvr.types import Prompt

    total = sampling.max_tokens
    groups = engine.generate(prompts, group_size, dataclasses.replace(sampling, max_tokens=min(segment, total)))
    for g in groups:
        for r in g.rollouts:
            r.versions = [rank.version] * len(r.response_ids)
    done, rnd = min(segment, total), 0
    live = [(g, r) for g in groups for r in g.rollouts if r.finish_reason == "length"]
    while live and done < total:
        rnd += 1
        rank._pull(None)  # newer weights, if any, for the rest of these responses
        n = min(segment, total - done)
        conts = [Prompt(id=g.prompt.id, text="", answer=g.prompt.answer,
                        prompt_ids=list(g.prompt.prompt_ids) + list(r.response_ids)) for g, r in live]
        seed = None if sampling.seed is None else sampling.seed + 7919 * rnd
        out = engine.generate(conts, 1, dataclasses.replace(sampling, max_tokens=n, seed=seed))
        for (g, r), cg in zip(live, out):
            c = cg.rollouts[0]
            r.response_ids = list(r.response_ids) + list(c.response_ids)
            r.sampler_logprobs = list(r.sampler_logprobs) + list(c.sampler_logprobs)
            r.versions = r.versions + [rank.version] * len(c.response_ids)
            r.response_text = tokenizer.decode(r.response_ids, skip_special_tokens=True)
            stopped = any(s in r.response_text for s in sampling.stop)
            r.finish_reason = "stop" if stopped else c.finish_reason
        done += n
        live = [(g, r) for g, r in live if r.finish_reason == "length"]
    return groups
