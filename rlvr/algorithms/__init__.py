"""Token-level RL algorithms: advantage estimators, masks, surrogates, regularizers, aggregation (pure torch).

Public API:
  compute_advantages(rewards [N, G], name=None, **params) -> advantages [N, G]
  token_loss(logprobs, old_logprobs, advantages, loss_mask, *, ..., **algorithm) -> (loss, metrics)
  step_normalizers(loss_mask or [micro-batch masks], ..., **algorithm) -> dict(num_tokens, num_seqs)
Registries (one function per variant): ADVANTAGES, LOSSES, MASKS, AGGREGATIONS, KL_ESTIMATORS; PRESETS.
No vLLM / DeepSpeed imports here (checked by tests).
"""
from rlvr.algorithms import adaptive as _adaptive  # noqa: F401  (registers bapo, hapo)
from rlvr.algorithms.advantages import ADVANTAGES, compute_advantages
from rlvr.algorithms.aggregation import AGGREGATIONS
from rlvr.algorithms.kl import KL_ESTIMATORS
from rlvr.algorithms.losses import LOSSES
from rlvr.algorithms.masks import MASKS
from rlvr.algorithms.presets import PRESETS
from rlvr.algorithms.token_loss import algorithm_config, step_normalizers, token_loss

__all__ = ["ADVANTAGES", "AGGREGATIONS", "KL_ESTIMATORS", "LOSSES", "MASKS", "PRESETS", "algorithm_config",
           "compute_advantages", "step_normalizers", "token_loss"]
