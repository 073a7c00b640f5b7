"""`Algorithm`: the active components of a config, resolved once, and the stages they run (design.md §4).

    algo = Algorithm(cfg.algorithm)                 # or Algorithm({"loss": "cispo", "cispo": {...}})
    algo.needs                                      # inputs the learner must compute ({"old_entropy", ...})
    algo.keep_group(group)                          # group filters
    algo.advantages(rewards [N, G], **inputs)       # [N, G] or [N, G, T]
    norm = algo.step_normalizers(micro-batch masks, **inputs as lists)   # once per optimizer step
    loss, metrics = algo.token_loss(logprobs, old_logprobs, advantages, loss_mask, **norm, **inputs)

Nothing here names an algorithm: every stage is a registry lookup (components.py).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from rlvr.algorithms.components import INPUTS, REGISTRIES, Component, LogitStat
from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.metrics import Sum

CURRENT_ONLY = {"logprobs", "entropy"}  # exist only in the training forward (never when counting denominators)
Bound = tuple[Component, Any]  # a component and its settings


class Algorithm:
    def __init__(self, cfg: Union[Mapping, Any]):
        from rlvr.config import AlgorithmConfig, algorithm_from_dict

        self.cfg = cfg if isinstance(cfg, AlgorithmConfig) else algorithm_from_dict(dict(cfg))
        c = self.cfg
        self.advantage = self._bind("advantage", c.advantage)
        self.filters = [self._bind("filter", n) for n in c.filters]
        masks = [self._bind("mask", n) for n in c.masks]
        self.masks = [m for m in masks if m[0].gates == "all"] + [m for m in masks if m[0].gates == "pg"]
        self.weights = [self._bind("weight", n) for n in c.weights]
        self.loss = self._bind("loss", c.loss)
        self.regularizers = [self._bind("regularizer", n) for n in c.regularizers]
        self.aggregation = self._bind("aggregation", c.aggregation)
        self.state: dict[str, dict] = {}  # persistent per-component state (checkpointed with the trainer)
        self._check_inputs()

    def _bind(self, kind: str, name: str) -> Bound:
        comp = REGISTRIES[kind].get(name)
        settings = self.cfg.settings.get(name)
        return comp, settings if settings is not None else comp.defaults()

    @property
    def components(self) -> list[Bound]:
        """Every active component, in stage order."""
        return [self.advantage, *self.filters, *self.masks, *self.weights, self.loss, *self.regularizers,
                self.aggregation]

    # ------------------------------------------------------------------------------------------- inputs

    def stat_providers(self) -> dict[str, Bound]:
        """Statistic name -> (LogitStat, settings of the component that provides it)."""
        return {st.name: (st, s) for comp, s in self.components for st in comp.stats}

    @functools.cached_property
    def declared(self) -> frozenset[str]:
        """Every declared input, as written (`entropy:grad`, `old_entropy`, ...)."""
        return frozenset(i for comp, _ in self.components for i in comp.inputs)

    @property
    def needs(self) -> frozenset[str]:
        """Declared input names without the `:grad` suffix."""
        return frozenset(i.split(":")[0] for i in self.declared)

    @property
    def grad_inputs(self) -> frozenset[str]:
        """Inputs whose gradient the loss uses (`name:grad`)."""
        return frozenset(i.split(":")[0] for i in self.declared if i.endswith(":grad"))

    def logit_stats(self, phase: str) -> dict[str, tuple[LogitStat, Any]]:
        """Statistics to compute from the logits in `phase` ("current": training forward; "old": old pass),
        keyed by input name (`<stat>` / `old_<stat>`)."""
        providers = self.stat_providers()
        out = {}
        for name in self.needs:
            base = name.removeprefix("old_")
            if base in providers and (name.startswith("old_") == (phase == "old")):
                out[name] = providers[base]
        return out

    def needs_old_pass(self) -> bool:
        """Some component reads behaviour-policy values before the update (old_logprobs, old_entropy, old
        statistics): the learner must run its no-grad pass even when training is on-policy."""
        return any(n.startswith("old_") for n in self.needs)

    def _check_inputs(self) -> None:
        stats = set(self.stat_providers())
        for comp, _ in self.components:
            for spec in comp.inputs:
                base = spec.split(":")[0]
                if base not in INPUTS and base not in CURRENT_ONLY and base.removeprefix("old_") not in stats:
                    raise ValueError(f"{comp.kind} {comp.name!r} declares unknown input {spec!r}; known: "
                                     f"{', '.join(sorted(set(INPUTS) | CURRENT_ONLY))} or a statistic some "
                                     f"active component provides ({', '.join(sorted(stats)) or 'none'})")
        current = None  # after a mask that needs the training forward, no mask may change the denominators
        for comp, s in self.masks:
            if current is not None and comp.shrinks_for(s):
                raise ValueError(f"mask {comp.name!r} changes the denominators but comes after mask {current!r}, "
                                 "which needs the training forward (denominators are counted before it); "
                                 "list it first")
            if self._current_only(comp):
                if comp.shrinks_for(s) and comp.count is None:
                    raise ValueError(f"mask {comp.name!r} needs the training forward and changes the "
                                     "denominators: register it with count= (its kept-token count)")
                current = comp.name

    def _current_only(self, comp: Component) -> bool:
        stats = self.stat_providers()
        return any(i.split(":")[0] in CURRENT_ONLY or i.split(":")[0] in stats for i in comp.inputs)

    # ----------------------------------------------------------------------------------- group stages

    def keep_group(self, group) -> bool:
        """All active group filters agree to keep `group`."""
        return all(comp(group, s) for comp, s in self.filters)

    def advantages(self, rewards: torch.Tensor, **inputs) -> torch.Tensor:
        """rewards [N, G] -> [N, G] or [N, G, T], with the estimator's declared inputs from `inputs`."""
        comp, s = self.advantage
        names = [i.split(":")[0] for i in comp.inputs]
        missing = [n for n in names if inputs.get(n) is None]
        if missing:
            raise ValueError(f"advantage {comp.name!r} needs {', '.join(missing)}")
        return comp(rewards, s, **{n: inputs[n] for n in names})

    # ------------------------------------------------------------------------------------- token stages

    def _masks(self, inp: TokenInputs, metrics: Optional[dict] = None):
        """-> keep_pg, den_pg, keep_all, den_all [B, T] bool (see components.py: gates / shrinks)."""
        base = inp.loss_mask
        keep_all = den_all = base
        keep_pg = den_pg = base
        n_base = base.sum().clamp(min=1)
        with torch.no_grad():
            for comp, s in self.masks:
                self._enter(inp, comp)
                new = comp(keep_pg, inp, s)  # statistics over the tokens still in the loss
                removed = keep_pg & ~new  # [B, T]
                if metrics is not None:
                    metrics[f"policy/masked_frac_{comp.name}"] = removed.sum() / n_base
                keep_pg = new
                if comp.shrinks_for(s):
                    den_pg = den_pg & ~removed
                if comp.gates == "all":
                    keep_all = keep_all & ~removed
                    if comp.shrinks_for(s):
                        den_all = den_all & ~removed
        return keep_pg, den_pg, keep_all, den_all

    def _enter(self, inp: TokenInputs, comp: Component) -> None:
        inp.state = self.state.setdefault(comp.name, {})

    def token_loss(self, logprobs: torch.Tensor, old_logprobs: Optional[torch.Tensor], advantages: torch.Tensor,
                   loss_mask: torch.Tensor, *, num_tokens: Optional[float] = None,
                   num_seqs: Optional[float] = None, num_reg_tokens: Optional[float] = None,
                   **inputs) -> tuple[torch.Tensor, dict]:
        """Loss of one micro-batch -> (0-dim loss with grad, metrics). See `rlvr.algorithms.token_loss`."""
        inp = as_inputs(logprobs, old_logprobs, advantages, loss_mask, inputs)
        inp.num_seqs = num_seqs  # a 0-dim regularizer term scales itself to this micro-batch's share of the step
        metrics: dict[str, Any] = {}
        keep_pg, den_pg, keep_all, den_all = self._masks(inp, metrics)
        rows = den_all.any(-1)  # [B] sequences counted in N (only gate-all masks remove rows)
        agg_comp, agg_s = self.aggregation
        agg_pg = functools.partial(agg_comp.fn, den_mask=den_pg, rows=rows, num_tokens=num_tokens,
                                   num_seqs=num_seqs, s=agg_s)
        agg_all = functools.partial(agg_comp.fn, den_mask=den_all, rows=rows,
                                    num_tokens=num_reg_tokens if num_reg_tokens is not None else num_tokens,
                                    num_seqs=num_seqs, s=agg_s)
        w = keep_pg.to(logprobs.dtype)  # [B, T]
        for comp, s in self.weights:
            self._enter(inp, comp)
            factor = comp(inp, s, keep_pg).detach()  # [B, T]
            metrics[f"policy/weight_{comp.name}"] = masked_mean(factor, keep_pg)
            w = w * factor
        comp, s = self.loss
        self._enter(inp, comp)
        sur = comp(inp, s, keep_pg)
        pg = agg_pg(sur.loss * w)
        total = pg
        for comp, s in self.regularizers:
            self._enter(inp, comp)
            out = comp(inp, s, keep_all)
            term, extra = out if isinstance(out, tuple) else (out, {})
            term = agg_all(term * keep_all) if term.dim() == 2 else term
            metrics[f"loss/{comp.name}"] = term.detach()
            metrics.update(extra)
            total = total + term
        metrics.update(_core_metrics(inp, keep_pg, sur, pg, total))
        return total, _as_floats(metrics)

    def step_normalizers(self, loss_mask: Union[torch.Tensor, Sequence[torch.Tensor]],
                         **inputs) -> dict[str, float]:
        """The optimizer step's denominators, to pass to every token_loss call of the step (all-reduce-sum the
        numbers across data-parallel ranks): num_tokens / num_seqs (policy-gradient term) and num_reg_tokens
        (regularizers; differs when a mask gating only the policy gradient shrinks the denominators).

        `loss_mask` is the step's [B, T] mask or the list of micro-batch masks exactly as they will be passed
        to token_loss (on one rank); other inputs (truncated, old_logprobs, sampler_logprobs, advantages, ...)
        as tensors or lists parallel to it. Masks run on the pre-update inputs; a mask that needs the training
        forward (one ranking tokens by current entropy) contributes its `count`.
        """
        masks = [loss_mask] if torch.is_tensor(loss_mask) else list(loss_mask)

        def part(x, i):
            return None if x is None else (x if torch.is_tensor(x) and len(masks) == 1 else x[i])

        tokens = seqs = reg_tokens = 0
        for i, m in enumerate(masks):
            inp = as_inputs(None, part(inputs.get("old_logprobs"), i), part(inputs.get("advantages"), i),
                            m, {k: part(v, i) for k, v in inputs.items() if k not in ("old_logprobs", "advantages")})
            keep = den_pg = den_all = inp.loss_mask  # mirrors _masks
            n_pg = None
            for comp, s in self.masks:
                if self._current_only(comp):  # the first such mask; none after it shrinks (_check_inputs)
                    if comp.shrinks_for(s):
                        n_pg = int(den_pg.sum()) - int(keep.sum()) + comp.count(int(keep.sum()), s)
                    break
                self._enter(inp, comp)
                removed = keep & ~comp(keep, inp, s)
                keep = keep & ~removed
                if comp.shrinks_for(s):
                    den_pg = den_pg & ~removed
                    if comp.gates == "all":
                        den_all = den_all & ~removed
            tokens += int(den_pg.sum()) if n_pg is None else n_pg
            reg_tokens += int(den_all.sum())
            seqs += int(den_all.any(-1).sum())
        return {"num_tokens": float(tokens), "num_seqs": float(seqs), "num_reg_tokens": float(reg_tokens)}

    # ------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict:
        return {k: dict(v) for k, v in self.state.items() if v}

    def load_state_dict(self, state: dict) -> None:
        self.state = {k: dict(v) for k, v in state.items()}


def as_inputs(logprobs, old_logprobs, advantages, loss_mask, inputs: Mapping[str, Any]) -> TokenInputs:
    """Tensors of one micro-batch -> TokenInputs (advantages [B] broadcast to [B, T]; unknown names -> extra)."""
    mask = loss_mask.to(torch.bool)  # [B, T]
    if advantages is not None:
        if advantages.dim() == 1:
            advantages = advantages[:, None].expand(mask.shape)  # [B] -> [B, T]
        if advantages.shape != mask.shape or (logprobs is not None and logprobs.shape != mask.shape):
            raise ValueError(f"token_loss: logprobs {tuple(logprobs.shape)}, advantages {tuple(advantages.shape)} "
                             f"and loss_mask {tuple(mask.shape)} must all be [B, T] (advantages may be [B])")
        dtype = logprobs.dtype if logprobs is not None else torch.float32
        advantages = advantages.detach().to(dtype) * mask  # [B, T]
    if logprobs is not None and old_logprobs is None:
        old_logprobs = logprobs.detach()  # on-policy: ratio 1, gradient intact
    elif old_logprobs is not None:
        old_logprobs = old_logprobs.detach()
    fields = {f.name for f in dataclasses.fields(TokenInputs)} - {"extra", "state"}
    known = {k: v for k, v in inputs.items() if k in fields}
    extra = {k: v for k, v in inputs.items() if k not in fields and v is not None}
    return TokenInputs(logprobs, old_logprobs, advantages, mask, **known, extra=extra)


def _core_metrics(inp: TokenInputs, keep, sur, pg, total) -> dict:
    """loss/* are this micro-batch's shares (they add up over micro-batches and ranks); policy/* local means."""
    with torch.no_grad():
        lr = (inp.logprobs - inp.old_logprobs).clamp(-20.0, 20.0)  # [B, T]
        m = {"loss/pg": pg.detach(), "loss/total": total.detach(),
             "policy/clipfrac_low": masked_mean(sur.clip_low.float(), keep),
             "policy/clipfrac_high": masked_mean(sur.clip_high.float(), keep),
             "policy/approx_kl": masked_mean(lr.exp() - 1 - lr, keep)}  # k3 estimate of KL(old || new)
        if inp.entropy is not None:
            m["policy/entropy"] = masked_mean(inp.entropy.detach(), inp.loss_mask)
        if inp.sampler_logprobs is not None:
            gap = (inp.sampler_logprobs - inp.old_logprobs).abs()  # [B, T]
            m["policy/sampler_logprob_gap"] = masked_mean(gap, inp.loss_mask)
            log_k = (inp.old_logprobs - inp.sampler_logprobs).clamp(-20.0, 20.0)  # [B, T] log pi_old / pi_behav
            # k3 estimate of KL(sampler || learner) on the sampler's tokens: stale or mismatched samples
            m["policy/mismatch_kl"] = masked_mean(log_k.exp() - 1 - log_k, inp.loss_mask)
        m.update(sur.metrics)
    return m


def _as_floats(metrics: dict) -> dict:
    """One device sync for every tensor metric; loss/* marked as sums (metrics.py)."""
    keys = [k for k, v in metrics.items() if torch.is_tensor(v)]
    values = torch.stack([metrics[k].detach().float().reshape(()) for k in keys]).tolist() if keys else []
    out = {k: float(v) for k, v in metrics.items() if not torch.is_tensor(v)}
    out.update(zip(keys, values))
    return {k: Sum(v) if k.startswith("loss/") else v for k, v in out.items()}
