"""rlvr plot: figures from a synthetic metrics.jsonl and the Cui et al. (2025) entropy fit R = -a exp(H) + b."""
from __future__ import annotations

import json
import math

import pytest

from rlvr.plot import PlotError, fit_entropy_performance, load_metrics, main, plot_run

A, B = 0.3, 1.2  # true curve R = -0.3 e^H + 1.2; ceiling at H = 0 is 1.2 - 0.3 = 0.9


def _write(run, rows, tail=""):
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def _rows(n=30):
    rows = []
    for s in range(n):
        h = 1.0 - 0.03 * s  # entropy decays 1.0 -> 0.13
        rows.append({"step": s, "policy/entropy": h, "reward/acc": -A * math.exp(h) + B, "reward/total": 0.5,
                     "rollout/response_len_mean": 20 + s, "policy/clipfrac_low": 0.01, "policy/clipfrac_high": 0.02,
                     "policy/approx_kl": 1e-3 * s})
    rows[10]["eval/demo/avg@4"] = 0.4  # eval metrics appear on a few steps only
    rows[20]["eval/demo/avg@4"] = 0.6
    return rows


def test_fit_recovers_known_curve():
    hs = [0.2, 0.5, 0.9, 1.4]
    # exact points: R(0.2) = -0.3 * 1.2214 + 1.2 = 0.8336, ... -> least squares must give back (0.3, 1.2)
    rs = [-A * math.exp(h) + B for h in hs]
    a, b = fit_entropy_performance(hs, rs)
    assert a == pytest.approx(A, abs=1e-9) and b == pytest.approx(B, abs=1e-9)


def test_fit_with_noise_and_degenerate_input():
    import numpy as np

    rng = np.random.default_rng(0)
    hs = np.linspace(0.1, 1.5, 200)
    rs = -A * np.exp(hs) + B + rng.normal(0, 0.01, hs.shape)
    a, b = fit_entropy_performance(hs, rs)
    assert abs(a - A) < 0.01 and abs(b - B) < 0.02
    with pytest.raises(ValueError, match="two points"):
        fit_entropy_performance([0.5, 0.5], [0.1, 0.2])


def test_plot_run_writes_figures_and_fit(tmp_path, capsys):
    run = tmp_path / "run"
    _write(run, _rows())
    result = plot_run(run)
    names = sorted(p.name for p in result["files"])
    assert names == ["clipfrac.png", "entropy.png", "entropy_fit.png", "kl.png", "response_len.png", "reward.png"]
    for p in result["files"]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
    fit = result["fit"]
    assert fit["key"] == "reward/acc" and fit["points"] == 30
    assert fit["a"] == pytest.approx(A, abs=1e-6) and fit["ceiling"] == pytest.approx(B - A, abs=1e-6)
    main([str(run), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert "predicted ceiling (H -> 0) = 0.9000" in out and (tmp_path / "o" / "kl.png").exists()


def test_missing_metrics_are_skipped(tmp_path, capsys):
    run = tmp_path / "run"
    _write(run, [{"step": s, "reward/total": 0.1 * s} for s in range(5)], tail='{"step": 5, "rew')  # killed mid-write
    result = plot_run(run)
    assert [p.name for p in result["files"]] == ["reward.png"] and result["fit"] is None
    main([str(run)])
    assert "entropy fit skipped" in capsys.readouterr().out


def test_bad_metrics_file_names_the_line(tmp_path):
    run = tmp_path / "run"
    _write(run, [{"step": 0}], tail="not json\n" + json.dumps({"step": 2}) + "\n")
    with pytest.raises(PlotError, match=r"metrics.jsonl:2: invalid JSON"):
        load_metrics(run / "metrics.jsonl")
    with pytest.raises(SystemExit, match="no such metrics file"):
        main([str(tmp_path / "nowhere")])
