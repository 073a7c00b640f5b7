"""DAPO soft overlong punishment, hand-computed (algorithms.md section 3)."""
from __future__ import annotations

import pytest

from rlvr.rewards.shaping import overlong_penalty


@pytest.mark.parametrize("length, expected", [
    (0, 0.0), (16384, 0.0),                       # L <= L_exp = 20480 - 4096 = 16384
    (16385, -1 / 4096), (18432, -0.5),            # (16384 - 18432) / 4096 = -0.5
    (20480, -1.0), (20481, -1.0), (99999, -1.0),  # at / beyond L_max: -penalty
])
def test_dapo_defaults(length, expected):
    assert overlong_penalty(length, 20480, 4096, 1.0) == pytest.approx(expected)


def test_penalty_factor_and_off_switch():
    assert overlong_penalty(9, 10, 4, 0.5) == pytest.approx((6 - 9) / 4 * 0.5)  # -0.375
    assert overlong_penalty(10**6, 10, 0, 1.0) == 0.0  # buffer 0 = off
