"""Named algorithm presets: `algorithm: {preset: dapo}` in a recipe. Pure data (imported by config)."""

PRESETS: dict[str, dict] = {
    # DeepSeekMath (Shao et al. 2024): group z-score, PPO-clip 0.2, per-sequence mean of token means.
    "grpo": {"advantage": "grpo", "loss": "ppo_clip", "eps_low": 0.2, "eps_high": 0.2,
             "aggregation": "seq_mean_token_mean"},
}
