"""Token-level RL algorithms as components: advantage estimators, group filters, token masks, token weights,
policy losses, regularizers, aggregations (pure torch; no vLLM / DeepSpeed imports, checked by tests).

Public API:
  Algorithm(cfg.algorithm or an `algorithm:` mapping)  -> needs, keep_group, advantages, token_loss, ...
  compute_advantages(rewards [N, G], name, **inputs_or_settings) -> advantages
  token_loss(logprobs, old_logprobs, advantages, loss_mask, *, <inputs>, **algorithm) -> (loss, metrics)
  step_normalizers(loss_mask or [micro-batch masks], *, <inputs>, **algorithm) -> the step's denominators
  register_advantage / register_filter / register_mask / register_weight / register_loss /
  register_regularizer / register_aggregation (name, SettingsDataclass, inputs=..., paper=...)
  describe() -> the `rlvr algorithms` listing; PRESETS.
"""
from rlvr.algorithms import adaptive as _adaptive  # noqa: F401  (registers bapo, hapo)
from rlvr.algorithms import offpolicy as _offpolicy  # noqa: F401  (registers decoupled, icepop, geo_seq)
from rlvr.algorithms import regularizers as _regularizers  # noqa: F401  (registers kl, entropy_bonus)
from rlvr.algorithms import cispo as _cispo  # noqa: F401  (registers cispo)
from rlvr.algorithms import entropy_adv as _entropy_adv  # noqa: F401  (registers entropy_adv)
from rlvr.algorithms import entropy_clip as _entropy_clip  # noqa: F401  (registers clip_b, clip_v)
from rlvr.algorithms import lp_reg as _lp_reg  # noqa: F401  (registers lp_reg)
from rlvr.algorithms import siren as _siren  # noqa: F401  (registers siren)
from rlvr.algorithms import steer as _steer  # noqa: F401  (registers steer)
from rlvr.algorithms.advantages import ADVANTAGES, compute_advantages
from rlvr.algorithms.aggregation import AGGREGATIONS
from rlvr.algorithms.components import (REGISTRIES, Component, LogitStat, describe, load_modules,
                                        register_advantage, register_aggregation, register_filter, register_loss,
                                        register_mask, register_regularizer, register_weight)
from rlvr.algorithms.filters import GroupBuffer
from rlvr.algorithms.inputs import TokenInputs, masked_mean
from rlvr.algorithms.kl import KL_ESTIMATORS
from rlvr.algorithms.losses import LOSSES, ClipSettings, Surrogate, clipped, log_ratio
from rlvr.algorithms.masks import MASKS
from rlvr.algorithms.pipeline import Algorithm
from rlvr.algorithms.presets import PRESETS
from rlvr.algorithms.token_loss import algorithm, step_normalizers, token_loss
from rlvr.algorithms.weights import WEIGHTS

FILTERS = REGISTRIES["filter"]
REGULARIZERS = REGISTRIES["regularizer"]

__all__ = ["ADVANTAGES", "AGGREGATIONS", "Algorithm", "ClipSettings", "Component", "FILTERS", "GroupBuffer",
           "KL_ESTIMATORS", "LOSSES", "LogitStat", "MASKS", "PRESETS", "REGISTRIES", "REGULARIZERS", "Surrogate",
           "TokenInputs", "WEIGHTS", "algorithm", "clipped", "compute_advantages", "describe", "load_modules",
           "log_ratio", "masked_mean", "register_advantage", "register_aggregation", "register_filter",
           "register_loss", "register_mask", "register_regularizer", "register_weight", "step_normalizers",
           "token_loss"]
