"""A user's algorithm file, as in README "Add an algorithm" (used by the plug-in tests)."""
from dataclasses import dataclass

import torch

from rlvr.algorithms import Surrogate, register_loss


@dataclass
class ScaledSettings:
    scale: float = 1.0  # multiplies -A * ratio


@register_loss("scaled_pg", ScaledSettings, paper="a test plug-in")
def scaled_pg(inp, s, keep):
    """-scale * A * ratio, no clipping."""
    ratio = (inp.logprobs - inp.old_logprobs).exp()
    none = torch.zeros_like(keep)
    return Surrogate(-s.scale * inp.advantages * ratio, none, none, {"policy/scaled_pg_scale": s.scale})
