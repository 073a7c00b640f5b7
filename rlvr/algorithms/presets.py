"""Named algorithm presets: `algorithm: {preset: dapo}` in a recipe. Pure data (imported by config).

Each preset is an `algorithm:` section: the active components and their settings under their own names; the
recipe's own `algorithm:` keys are merged over it. Reward shaping (DAPO overlong buffer: reward.overlong_buffer)
and sampler features (HAPO adaptive temperature: rollout.adaptive_temperature) live in other sections and are
set by recipes, not here. Values: algorithms.md.
"""

_DAPO = {"advantage": "grpo", "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 10.0},
         "aggregation": "token_mean", "filters": ["dynamic_sampling"], "max_gen_batches": 10}

PRESETS: dict[str, dict] = {
    # GRPO — DeepSeekMath (Shao et al. 2024, arXiv 2402.03300): group z-score, PPO-clip 0.2, per-sequence mean of
    # token means, k3 KL to the reference as a loss term with beta = 0.04.
    "grpo": {"advantage": "grpo", "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2},
             "aggregation": "seq_mean_token_mean", "regularizers": ["kl"], "kl": {"coef": 0.04, "estimator": "k3"}},
    # Dr. GRPO — "Understanding R1-Zero-Like Training" (Liu et al., arXiv 2503.20783): no std, token sum over
    # a constant L_max (= algorithm.constant.max_response_len, default rollout.max_tokens), no KL; oat clip 0.2.
    "dr_grpo": {"advantage": "dr_grpo", "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2},
                "aggregation": "constant"},
    # DAPO (Yu et al., arXiv 2503.14476; verl recipe/dapo): clip-higher 0.2/0.28, verl dual-clip 10,
    # token-mean, no KL, dynamic sampling on correctness (max 10 generation batches).
    "dapo": dict(_DAPO),
    # BAPO — Balanced Policy Optimization with Adaptive Clipping (Xi et al., arXiv 2510.18927): paper Alg. 1
    # (upper bound first), rho0 0.5, c_low in [0.6, 0.9], c_high in [1.2, 3.0], steps 0.05 (code yaml),
    # contributions of gradient-carrying tokens (with the code's clipped-value count, raising c_low could only
    # lower rho_pos, so Alg. 1's second phase would be void), token-mean, verl's default dual-clip 3.0.
    "bapo": {"advantage": "grpo", "loss": "bapo", "aggregation": "token_mean",
             "bapo": {"rho0": 0.5, "c_low_min": 0.6, "c_low_max": 0.9, "c_high_min": 1.2, "c_high_max": 3.0,
                      "step_low": 0.05, "step_high": 0.05, "order": "high_first", "count": "unclipped",
                      "dual_clip": 3.0}},
    # HAPO — Heterogeneous Adaptive Policy Optimization (arXiv 2509.16591; starriver030515/HAPO): DAPO pipeline
    # with eps 0.2/0.2, dual-clip 10, token-level group average advantages, pivot 0.8, alpha 1, beta 1,
    # paper-signed h-hat, max 16 generation batches.
    "hapo": {**_DAPO, "advantage": "hapo_tlga", "hapo_tlga": {"adv_max": 5.0}, "loss": "hapo",
             "hapo": {"eps_low": 0.2, "eps_high": 0.2, "dual_clip": 10.0, "entropy_pivot": 0.8, "clip_alpha": 1.0,
                      "adv_beta": 1.0, "code_compat": False},
             "max_gen_batches": 16},
    # Clip-Cov — "The Entropy Mechanism of RL for Reasoning LMs" (Cui et al., arXiv 2505.22617): DAPO pipeline,
    # PPO bounds opened to [0, 2] as the authors' scripts (eps 1/1), detach ratio 2e-4 of tokens with
    # covariance in (1, 5); no dual-clip (verl's clip_cov applies none).
    "clip_cov": {**_DAPO, "loss": "clip_cov",
                 "clip_cov": {"eps_low": 1.0, "eps_high": 1.0, "ratio": 2e-4, "lb": 1.0, "ub": 5.0}},
    # KL-Cov — same paper (arXiv 2505.22617): no clipping, |logp - old_logp| penalty (coef 1, paper) on the
    # top 0.2% tokens by covariance (7B value, a fraction — the original repo's 0.2 is in percent).
    "kl_cov": {**_DAPO, "loss": "kl_cov", "kl_cov": {"ratio": 2e-3, "coef": 1.0}},
    # Forking tokens — "Beyond the 80/20 Rule" (Wang et al., arXiv 2506.01939): DAPO + gradient only on the top
    # 20% entropy tokens; token-mean denominator over all valid tokens (paper; authors' code: renorm).
    "forking_tokens": {**_DAPO, "masks": ["forking"], "forking": {"top_frac": 0.2, "renorm": False}},
    # Lite PPO — "Part I: Tricks or Traps?" (arXiv 2508.08221): group mean / batch std advantages (TRL raw
    # std), token-mean, PPO-clip 0.2, nothing else.
    "lite_ppo": {"advantage": "lite_ppo", "lite_ppo": {"std": "raw"}, "loss": "ppo_clip",
                 "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2}, "aggregation": "token_mean"},
    # GSPO — Group Sequence Policy Optimization (Zheng et al., arXiv 2507.18071): sequence ratio (GSPO-token),
    # eps 3e-4 / 4e-4, sequence-mean of token means, GRPO advantages, no KL.
    "gspo": {"advantage": "grpo", "loss": "gspo", "gspo": {"eps_low": 3e-4, "eps_high": 4e-4},
             "aggregation": "seq_mean_token_mean"},
    # CISPO — MiniMax-M1 (arXiv 2506.13585 §3.1): GRPO advantages, the IS weight clipped from above only
    # (paper: no lower bound), cap 1 + 4 = 5 (TRL's recommended absolute cap, after ScaleRL arXiv 2510.13786;
    # the paper does not publish its eps_high), token-mean over the step, no KL.
    "cispo": {"advantage": "grpo", "loss": "cispo", "cispo": {"eps_low": None, "eps_high": 4.0},
              "aggregation": "token_mean"},
    # Lp-Reg (arXiv 2510.03222; CarlanLark/Lp-Reg scripts): GRPO, PPO ratio in [0, 10], min-p proxy kappa 0.02,
    # the 1% lowest-probability negative tokens pulled towards the proxy with k3, beta 1, token-mean, no KL.
    "lp_reg": {"advantage": "grpo", "loss": "lp_reg", "aggregation": "token_mean",
               "lp_reg": {"eps_low": 1.0, "eps_high": 9.0, "kappa": 0.02, "rule": "minp", "neg_frac": 0.01,
                          "pos_frac": 0.0, "coef": 1.0}},
    # SIREN (arXiv 2509.25133; Linn3a/siren exp_scripts/siren.sh): GRPO without std, PPO-clip 0.28 with verl's
    # dual clip 3, seq-mean-token-sum-norm (= Dr. GRPO's constant L_max normaliser), lambda 0.005 on the top-p
    # 0.8 / peak 0.8 entropy, nucleus as the paper (the code's strict prefix: siren.nucleus = strict).
    "siren": {"advantage": "dr_grpo", "loss": "ppo_clip", "aggregation": "constant",
              "ppo_clip": {"eps_low": 0.28, "eps_high": 0.28, "dual_clip": 3.0}, "regularizers": ["siren"],
              "siren": {"coef": 0.005, "top_p": 0.8, "top_k": 10000, "nucleus": "inclusive", "quantile": 0.8,
                        "scope": "micro_batch"}},
    # STEER (arXiv 2510.10150; zz-haooo/STEER run/run_linear.sh): GRPO, PPO-clip 0.2/0.28 with dual clip 10,
    # linear weights in [0.8, 1.2] from the predicted entropy change, token-mean, no KL.
    "steer": {"advantage": "grpo", "loss": "ppo_clip", "aggregation": "token_mean",
              "ppo_clip": {"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 10.0},
              "weights": ["steer"], "steer": {"mapping": "linear", "w_min": 0.8, "w_max": 1.2}},
    # Clip_B / Clip_V — On the Entropy Dynamics in RFT of LLMs (arXiv 2602.03392; Trinity-RFT examples/entropy):
    # GRPO (grpo_verl), PPO-clip 0.2 with Trinity's dual clip 3, token-mean, no KL; Clip_B mu 2.5 (clipb.yaml),
    # Clip_V mu 8.5 (Trinity default_args; its constructor says 2.0) and max_frac 1e-4.
    "clip_b": {"advantage": "grpo", "masks": ["clip_b"], "clip_b": {"mu": 2.5, "logprobs": "old"},
               "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2, "dual_clip": 3.0},
               "aggregation": "token_mean"},
    "clip_v": {"advantage": "grpo", "masks": ["clip_v"], "clip_v": {"mu": 8.5, "max_frac": 1e-4},
               "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2, "dual_clip": 3.0},
               "aggregation": "token_mean"},
    # Entropy-shaped advantages — Reasoning with Exploration: An Entropy Perspective (arXiv 2506.14758): GRPO
    # advantages + min(0.4 H, |A| / 2) per token, PPO-clip 0.2, token-mean (veRL's default), no KL.
    "entropy_adv": {"advantage": "entropy_adv", "entropy_adv": {"alpha": 0.4, "kappa": 2.0, "base": "grpo"},
                    "loss": "ppo_clip", "ppo_clip": {"eps_low": 0.2, "eps_high": 0.2}, "aggregation": "token_mean"},
}
