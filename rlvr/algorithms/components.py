"""The component contract: every algorithm piece is a small registered function that owns its settings and
declares the inputs it reads (design.md §4).

    @dataclass
    class CispoSettings:
        eps_high: float = 4.0  # upper clip of the IS weight

    @register_loss("cispo", CispoSettings, paper="MiniMax-M1, arXiv 2506.13585")
    def cispo(inp: TokenInputs, s: CispoSettings, keep: torch.Tensor) -> Surrogate: ...

A recipe names the active components and gives each one's settings under its own name:

    algorithm: {loss: cispo, cispo: {eps_high: 5.0}, masks: [truncated], regularizers: [kl], kl: {coef: 0.01}}

Stages, in the order a step runs them (the signature each kind's function has):
  advantage    fn(rewards [N, G], s, **inputs) -> advantages [N, G] or per-token [N, G, T]
  filter       fn(group, s) -> bool                       keep this group (e.g. DAPO dynamic sampling)
  mask         fn(valid [B, T] bool, inp, s) -> keep [B, T] bool
  weight       fn(inp, s, keep [B, T]) -> [B, T]          detached per-token factor on the policy-gradient term
  loss         fn(inp, s, keep [B, T]) -> Surrogate       per-token policy-gradient loss
  regularizer  fn(inp, s, keep [B, T]) -> [B, T] or 0-dim (optionally with a metrics dict as a 2-tuple)
  aggregation  fn(x, den_mask, rows, *, num_tokens, num_seqs, s) -> 0-dim

Inputs a component may declare (`inputs=`; the learner computes only what the active components declare):
  entropy            current-policy entropy in the training forward (values; `entropy:grad` = with gradient)
  old_entropy        behaviour-policy entropy from the no-grad old pass
  old_logprobs       behaviour log-probs needed *before* the update (forces the old pass when on-policy; losses
                     always receive old_logprobs at loss time, so they need not declare it)
  ref_logprobs       frozen reference policy (loads the reference model)
  sampler_logprobs   the rollout engine's log-probs (always recorded)
  truncated          [B] response hit the length limit
  lengths, acc       [N, G] response lengths / correctness (advantage stage)
  loss_mask          per-token validity [N, G, T] (advantage stage; losses always receive it)
  <stat>, old_<stat> a per-token statistic of the full next-token distribution that the component provides
                     (`stats=`), computed chunk-wise by the learner in the training forward or the old pass
Advantage estimators receive their declared inputs as [N, G] (sequence) or [N, G, T] (token) tensors.

Masks also declare what they gate: `gates="all"` (the tokens leave every term, as if never sampled) or
`gates="pg"` (only the policy-gradient term), and whether removed tokens leave the denominators
(`shrinks=True`, or a function of the settings). Gate-all masks run first, then the others in list order.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import tokenize
from dataclasses import dataclass
from io import StringIO
from typing import Any, Callable, Optional, Sequence, Union

from rlvr.registry import load_user_modules

KINDS = ("advantage", "filter", "mask", "weight", "loss", "regularizer", "aggregation")
INPUTS = ("entropy", "old_entropy", "old_logprobs", "ref_logprobs", "sampler_logprobs", "truncated",
          "lengths", "acc", "loss_mask", "rewards", "generator")


@dataclass(frozen=True)
class LogitStat:
    """A per-token statistic of the next-token distribution, computed from each chunk of logits.

    fn(logits [C, V] fp32 at the training temperature, targets [C], settings) -> [C]. Under `<name>:grad` the
    learner backpropagates through it (autograd over a recomputed chunk); otherwise it is a detached value.
    """

    name: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Component:
    kind: str  # one of KINDS
    name: str  # registry name; also the recipe section holding its settings (`algorithm.<name>`)
    fn: Callable[..., Any]
    settings: Optional[type] = None  # dataclass of its settings (defaults + one-line comments); None = none
    inputs: tuple[str, ...] = ()  # declared inputs (see module docstring); `name:grad` = needs the gradient
    paper: str = ""  # what it implements (paper / arXiv id), shown by `rlvr algorithms`
    stats: tuple[LogitStat, ...] = ()  # per-token statistics this component provides (usable as inputs)
    gates: str = "pg"  # masks: "pg" | "all"
    shrinks: Union[bool, Callable[[Any], bool]] = True  # masks: removed tokens leave the denominators
    count: Optional[Callable[[int, Any], int]] = None  # masks that need current-forward values: kept count

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def defaults(self) -> Any:
        return self.settings() if self.settings is not None else None

    def shrinks_for(self, settings: Any) -> bool:
        return self.shrinks(settings) if callable(self.shrinks) else bool(self.shrinks)


class ComponentRegistry:
    """Name -> Component for one kind; a miss names the closest registered name."""

    def __init__(self, kind: str, label: str):
        self.kind, self.label = kind, label
        self._items: dict[str, Component] = {}

    def add(self, comp: Component) -> Component:
        owner = _ALL.get(comp.name)
        if owner is not None and owner.fn is not comp.fn:
            raise KeyError(f"algorithm component {comp.name!r} is already registered (as a {owner.kind}); "
                           "names are unique across kinds because each names a recipe section")
        self._items[comp.name] = _ALL[comp.name] = comp
        return comp

    def get(self, name: str) -> Component:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._items, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.label} {name!r}.{hint} Known: {', '.join(sorted(self._items))}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(self._items.values())


_ALL: dict[str, Component] = {}
REGISTRIES: dict[str, ComponentRegistry] = {
    "advantage": ComponentRegistry("advantage", "advantage estimator"),
    "filter": ComponentRegistry("filter", "group filter"),
    "mask": ComponentRegistry("mask", "token mask"),
    "weight": ComponentRegistry("weight", "token weight"),
    "loss": ComponentRegistry("loss", "policy loss"),
    "regularizer": ComponentRegistry("regularizer", "regularizer"),
    "aggregation": ComponentRegistry("aggregation", "loss aggregation"),
}


def component(name: str) -> Optional[Component]:
    """The component registered under `name` (any kind), or None."""
    return _ALL.get(name)


def _register(kind: str, name: str, settings: Optional[type], **attrs) -> Callable:
    if settings is not None and not dataclasses.is_dataclass(settings):
        raise TypeError(f"register_{kind}({name!r}, ...): settings must be a dataclass, got {settings!r}")
    attrs["inputs"] = tuple(attrs.get("inputs", ()))  # checked against INPUTS and stats when an Algorithm is built
    attrs["stats"] = tuple(attrs.get("stats", ()))

    def deco(fn: Callable) -> Callable:
        REGISTRIES[kind].add(Component(kind, name, fn, settings, **attrs))
        return fn

    return deco


def register_advantage(name: str, settings: Optional[type] = None, *, inputs: Sequence[str] = (),
                       paper: str = "", stats: Sequence[LogitStat] = ()) -> Callable:
    """Register `fn(rewards [N, G], s, **inputs) -> [N, G] or [N, G, T]` as advantage estimator `name`."""
    return _register("advantage", name, settings, inputs=inputs, paper=paper, stats=stats)


def register_filter(name: str, settings: Optional[type] = None, *, paper: str = "") -> Callable:
    """Register `fn(group, s) -> bool` (keep the group) as group filter `name`."""
    return _register("filter", name, settings, paper=paper)


def register_mask(name: str, settings: Optional[type] = None, *, inputs: Sequence[str] = (), paper: str = "",
                  gates: str = "pg", shrinks: Union[bool, Callable[[Any], bool]] = True,
                  count: Optional[Callable[[int, Any], int]] = None,
                  stats: Sequence[LogitStat] = ()) -> Callable:
    """Register `fn(valid [B, T] bool, inp, s) -> keep [B, T] bool` as token mask `name`.

    gates: "pg" (only the policy-gradient term) or "all" (every term). shrinks: removed tokens leave the
    denominators (or a function of the settings). count(n_valid, s): the kept count, for masks whose inputs
    exist only in the training forward (the step's denominators are counted before it).
    """
    if gates not in ("pg", "all"):
        raise ValueError(f"register_mask({name!r}): gates must be 'pg' or 'all', got {gates!r}")
    return _register("mask", name, settings, inputs=inputs, paper=paper, gates=gates, shrinks=shrinks,
                     count=count, stats=stats)


def register_weight(name: str, settings: Optional[type] = None, *, inputs: Sequence[str] = (), paper: str = "",
                    stats: Sequence[LogitStat] = ()) -> Callable:
    """Register `fn(inp, s, keep [B, T]) -> [B, T]` (detached per-token factor on the PG term) as `name`."""
    return _register("weight", name, settings, inputs=inputs, paper=paper, stats=stats)


def register_loss(name: str, settings: Optional[type] = None, *, inputs: Sequence[str] = (), paper: str = "",
                  stats: Sequence[LogitStat] = ()) -> Callable:
    """Register `fn(inp, s, keep [B, T]) -> Surrogate` as policy loss `name`."""
    return _register("loss", name, settings, inputs=inputs, paper=paper, stats=stats)


def register_regularizer(name: str, settings: Optional[type] = None, *, inputs: Sequence[str] = (),
                         paper: str = "", stats: Sequence[LogitStat] = ()) -> Callable:
    """Register `fn(inp, s, keep [B, T]) -> [B, T] per-token term (aggregated like the loss) or a 0-dim term`,
    optionally returned as `(term, metrics)`, as regularizer `name`. The term is added to the loss as is: it
    carries its own coefficient (a setting). A 0-dim term must be this micro-batch's additive share of the
    step's term (the shares of all micro-batches and ranks are summed); `inp.num_seqs` is the step's
    sequence count (None: this micro-batch is the whole step)."""
    return _register("regularizer", name, settings, inputs=inputs, paper=paper, stats=stats)


def register_aggregation(name: str, settings: Optional[type] = None, *, paper: str = "") -> Callable:
    """Register `fn(x, den_mask, rows, *, num_tokens, num_seqs, s) -> 0-dim` as aggregation `name`."""
    return _register("aggregation", name, settings, paper=paper)


# ------------------------------------------------------------------------------------------ user modules

def load_modules(modules: Sequence[str]) -> None:
    """Import user component files (`path/to/my_algos.py`, relative to the working directory) or module names;
    their `register_*` decorators add the components. Each file is imported once per process."""
    load_user_modules(modules, key="algorithm.modules", prefix="rlvr_user_algorithms")


# ----------------------------------------------------------------------------------------- introspection


def field_comments(cls: type) -> dict[str, str]:
    """The one-line doc of each setting of a dataclass, base classes included: the `# comment` after the field,
    or on the line just above it."""
    out: dict[str, str] = {}
    for klass in cls.__mro__:
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        names = {f.name for f in dataclasses.fields(klass)}
        field_at: dict[int, str] = {}  # line -> field defined there
        comment_at: dict[int, str] = {}  # line -> comment text
        code_lines: set[int] = set()
        for tok in tokenize.generate_tokens(StringIO(src).readline):
            line = tok.start[0]
            if tok.type == tokenize.COMMENT:
                comment_at[line] = tok.string.lstrip("#").strip()
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                if line not in code_lines and tok.type == tokenize.NAME and tok.string in names:
                    field_at[line] = tok.string
                code_lines.add(line)
        for line, name in field_at.items():
            above = comment_at.get(line - 1) if line - 1 not in code_lines else None
            text = comment_at.get(line) or above
            if text:
                out.setdefault(name, text)
    return out


HEADINGS = {"advantage": "Advantage estimators", "filter": "Group filters", "mask": "Token masks",
            "weight": "Token weights", "loss": "Policy losses", "regularizer": "Regularizers",
            "aggregation": "Aggregations"}
FIELDS = {"advantage": "advantage", "filter": "filters", "mask": "masks", "weight": "weights", "loss": "loss",
          "regularizer": "regularizers", "aggregation": "aggregation"}


def describe(kinds: Sequence[str] = KINDS) -> str:
    """Every registered component with its settings (defaults, comments), inputs and paper (`rlvr algorithms`)."""
    lines = []
    for kind in kinds:
        reg = REGISTRIES[kind]
        lines.append(f"{HEADINGS[kind]} (algorithm.{FIELDS[kind]}):")
        for comp in sorted(reg, key=lambda c: c.name):
            extra = f"  [gates {comp.gates}]" if kind == "mask" else ""
            doc = (comp.fn.__doc__ or "").strip().splitlines()
            lines.append(f"  {comp.name}{extra}  —  {comp.paper or (doc[0] if doc else '')}".rstrip(" —"))
            if comp.inputs:
                lines.append(f"      inputs: {', '.join(comp.inputs)}")
            if comp.settings is not None:
                notes = field_comments(comp.settings)
                for f in dataclasses.fields(comp.settings):
                    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                    lines.append(f"      {comp.name}.{f.name} = {default!r}   {notes.get(f.name, '')}".rstrip())
        lines.append("")
    return "\n".join(lines)


__all__ = ["INPUTS", "KINDS", "REGISTRIES", "Component", "ComponentRegistry", "LogitStat", "component", "describe",
           "field_comments", "load_modules", "register_advantage", "register_aggregation", "register_filter",
           "register_loss", "register_mask", "register_regularizer", "register_weight"]
