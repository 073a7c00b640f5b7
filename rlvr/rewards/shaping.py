"""Length shaping added to the sequence reward (never to `acc`, which dynamic sampling filters on)."""
from __future__ import annotations


def overlong_penalty(length: int, max_len: int, buffer: int, penalty: float = 1.0) -> float:
    """DAPO soft overlong punishment (Yu et al. 2025, eq. 13; verl `dapo.py`), with L_exp = max_len - buffer:
        0                                  if L <= L_exp
        (L_exp - L) / buffer * penalty     if L_exp < L <= max_len   (linear from 0 down to -penalty)
        -penalty                           if L > max_len
    buffer <= 0 turns it off."""
    if buffer <= 0:
        return 0.0
    expected = max_len - buffer
    if length <= expected:
        return 0.0
    if length > max_len:
        return -penalty
    return (expected - length) / buffer * penalty
