"""The one table of dtype names, shared by the learner, the HF engine and the vLLM engine (config names:
model.dtype / rollout.dtype)."""
from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}
NAMES = ("auto", *DTYPES)  # what the config accepts


def resolve_dtype(name: str, device: str | torch.device) -> torch.dtype:
    """A config dtype name -> torch dtype; "auto" = bf16 on GPU, fp32 on CPU."""
    if name == "auto":
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; use one of {', '.join(NAMES)}")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """torch.bfloat16 -> "bfloat16" (what vLLM's `dtype=` takes)."""
    return str(dtype).removeprefix("torch.")
