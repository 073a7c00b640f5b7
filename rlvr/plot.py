"""`rlvr plot RUN_DIR`: PNG curves of a run's metrics.jsonl, plus the entropy -> performance fit.

Writes into RUN_DIR/plots/ (or --out): reward.png (reward / accuracy / eval metrics), entropy.png,
response_len.png, clipfrac.png, kl.png and entropy_fit.png. A figure whose metrics the run never logged is
skipped. The fit is Cui et al. 2025, "The Entropy Mechanism of Reinforcement Learning for Reasoning Language
Models" (arXiv 2505.22617), Eq. 1:  R = -a * exp(H) + b, where H is policy entropy and R validation
performance. It is linear in (a, b) with x = exp(H), so ordinary least squares solves it exactly; the
predicted ceiling is the performance when entropy is exhausted, R(H=0) = -a + b.
"""
from __future__ import annotations

import argparse
import json
import logging
import fnmatch
import math
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger("rlvr.plot")

# figure name -> (title, metric names or shell-style patterns (fnmatch) that it draws)
FIGURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reward": ("Reward and accuracy", ("reward/total", "reward/acc", "eval/*/avg@*", "eval/*/pass@*")),
    "entropy": ("Policy entropy (nats / token)", ("policy/entropy",)),
    "response_len": ("Response length (tokens)", ("rollout/response_len_mean", "rollout/response_len_max",
                                                   "rollout/truncated_frac")),
    "clipfrac": ("Clipped token fraction", ("policy/clipfrac_low", "policy/clipfrac_high", "policy/clipfrac")),
    "kl": ("KL", ("policy/approx_kl", "policy/kl", "loss/kl")),
}
PERFORMANCE_KEYS = ("reward/acc", "reward/total")  # what the entropy fit explains, first present wins


class PlotError(ValueError):
    """A metrics file that cannot be read; the message names the file and line."""


def load_metrics(path: str | Path) -> list[dict]:
    """One dict per JSON line. A truncated *last* line (run killed mid-write) is skipped with a warning."""
    path = Path(path)
    if not path.is_file():
        raise PlotError(f"{path}: no such metrics file")
    lines = path.read_text().splitlines()
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines):
                log.warning("%s:%d: skipping truncated last line", path, i)
                continue
            raise PlotError(f"{path}:{i}: invalid JSON ({e.msg})") from None
        if not isinstance(row, dict) or "step" not in row:
            raise PlotError(f"{path}:{i}: expected a JSON object with a 'step' key")
        rows.append(row)
    return rows


def series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one metric over the rows that logged a finite number for it."""
    xs, ys = [], []
    for r in rows:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(r["step"]))
            ys.append(float(v))
    return xs, ys


def _keys(rows: list[dict], patterns: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for pat in patterns:
        for r in rows:
            for k in r:
                if fnmatch.fnmatchcase(k, pat) and k not in seen:
                    seen[k] = None
    return [k for k in seen if series(rows, k)[0]]


def fit_entropy_performance(entropy: Sequence[float], perf: Sequence[float]) -> tuple[float, float]:
    """Least-squares (a, b) of R = -a * exp(H) + b (Cui et al. 2025, Eq. 1). Needs >= 2 distinct entropies."""
    import numpy as np

    x = np.exp(np.asarray(entropy, dtype=float))  # [n]
    y = np.asarray(perf, dtype=float)  # [n]
    if len(x) < 2 or np.ptp(x) == 0:
        raise ValueError("the entropy fit needs at least two points with different entropy")
    design = np.stack([-x, np.ones_like(x)], axis=1)  # [n, 2]: R = a * (-e^H) + b * 1
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(a), float(b)


def entropy_fit_points(rows: list[dict], perf_key: Optional[str] = None) -> tuple[str, list[float], list[float]]:
    """(performance key, entropies, performances) over the steps that logged both."""
    key = perf_key or next((k for k in PERFORMANCE_KEYS if series(rows, k)[0]), None)
    if key is None:
        return "", [], []
    hs, rs = [], []
    for r in rows:
        h, v = r.get("policy/entropy"), r.get(key)
        if all(isinstance(t, (int, float)) and math.isfinite(t) for t in (h, v)):
            hs.append(float(h))
            rs.append(float(v))
    return key, hs, rs


def _line_figure(rows: list[dict], title: str, keys: list[str], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k in keys:
        xs, ys = series(rows, k)
        ax.plot(xs, ys, marker="." if len(xs) < 50 else None, label=k)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fit_figure(key: str, hs: list[float], rs: list[float], a: float, b: float, path: Path) -> Path:
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.scatter(hs, rs, s=12, label=f"{key} vs policy/entropy")
    grid = np.linspace(0.0, max(hs) * 1.05, 200)  # [200] down to H = 0, where the ceiling is read off
    ax.plot(grid, -a * np.exp(grid) + b, color="C1", label=f"R = -{a:.3g} exp(H) + {b:.3g}")
    ax.axhline(b - a, color="C2", ls="--", label=f"predicted ceiling -a + b = {b - a:.3f}")
    ax.set_xlabel("policy entropy H")
    ax.set_ylabel(key)
    ax.set_title("Entropy-performance fit (Cui et al. 2025)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(run_dir: str | Path, out_dir: Optional[str | Path] = None, perf_key: Optional[str] = None) -> dict:
    """Write the PNGs for RUN_DIR/metrics.jsonl. Returns {"files": [...], "fit": {"a", "b", "ceiling", "key"} or None}."""
    import matplotlib

    matplotlib.use("Agg")
    run_dir = Path(run_dir)
    rows = load_metrics(run_dir / "metrics.jsonl")
    out = Path(out_dir) if out_dir else run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (title, patterns) in FIGURES.items():
        keys = _keys(rows, patterns)
        if keys:
            files.append(_line_figure(rows, title, keys, out / f"{name}.png"))
        else:
            log.info("no %s metrics in %s; skipping %s.png", "/".join(patterns), run_dir, name)
    fit = None
    key, hs, rs = entropy_fit_points(rows, perf_key)
    if len(set(hs)) >= 2:
        a, b = fit_entropy_performance(hs, rs)
        fit = {"key": key, "a": a, "b": b, "ceiling": b - a, "points": len(hs)}
        files.append(_fit_figure(key, hs, rs, a, b, out / "entropy_fit.png"))
    return {"files": files, "fit": fit}


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(prog="rlvr plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="run directory holding metrics.jsonl")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/plots)")
    p.add_argument("--perf-key", default=None, help=f"metric the entropy fit explains (default: first of {PERFORMANCE_KEYS})")
    args = p.parse_args(argv)
    try:
        result = plot_run(args.run_dir, args.out, args.perf_key)
    except PlotError as e:
        raise SystemExit(f"rlvr plot: {e}")
    for f in result["files"]:
        print(f)
    fit = result["fit"]
    if fit:
        print(f"entropy fit over {fit['points']} steps: {fit['key']} = -{fit['a']:.4g} * exp(H) + {fit['b']:.4g}; "
              f"predicted ceiling (H -> 0) = {fit['ceiling']:.4f}")
    else:
        print("entropy fit skipped: needs policy/entropy and reward/acc (or reward/total) at >= 2 distinct entropies")


if __name__ == "__main__":
    main()
