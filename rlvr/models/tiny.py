"""Build tiny Qwen2-architecture models and byte-level BPE tokenizers locally (no hub access needed).

Used by the tests, the tiny CPU recipes and the demo. A build is cached: the output directory records the
arguments it was built with and is reused when they match. Head dim defaults to 64 because vLLM's CPU
attention rejects 16.

    python -m rlvr.models.tiny OUT_DIR [--layers 2 --hidden 128 ...]
    python -m rlvr.models.tiny OUT_DIR --config qwen2.5-0.5b     # a real architecture, random weights

`--config NAME` (a file in rlvr/models/configs: qwen2.5-0.5b, qwen2.5-math-1.5b) builds the real model's shape,
vocabulary size included, so the lm head and the chunked log-prob path run at real size; the tokenizer is
trained locally and filled up to that vocabulary with tokens that encoding never produces but decoding can
(a random model samples every id).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Optional

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
DEFAULT_CORPUS = ["gsm8k_train", "math_train"]  # bundled training sets (rlvr/data/train)


def corpus_texts(files: Optional[Iterable[str | Path]] = None, limit: int = 4000) -> list[str]:
    """Problem and solution texts from JSONL files or bundled set names (default: the bundled training prompts)."""
    from rlvr.data.load import bundled_path

    files = [bundled_path(str(f)) or Path(f) for f in (files or DEFAULT_CORPUS)]
    texts: list[str] = []
    for f in files:
        with open(f) as fh:
            for i, line in enumerate(fh):
                if i >= limit:
                    break
                row = json.loads(line)
                texts += [str(row.get(k)) for k in ("problem", "solution", "answer") if row.get(k)]
    texts += [r"The final answer is \boxed{42}. <think> </think> <answer> </answer>"]
    return texts


def train_tokenizer(texts: list[str], vocab_size: int = 1024, split_digits: bool = False,
                    fill_to: Optional[int] = None):
    """Byte-level BPE (as Qwen/GPT-2) wrapped as a transformers fast tokenizer.

    split_digits: every digit is its own token (as Qwen2's pre-tokenizer does), which makes arithmetic learnable.
    fill_to: pad the vocabulary to this many ids (fill_vocab).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if split_digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    if fill_to:
        tok = fill_vocab(tok, fill_to)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>", bos_token=None,
        unk_token=None, additional_special_tokens=["<|endoftext|>", "<|im_start|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


CONFIGS_DIR = Path(__file__).parent / "configs"


def shipped_configs() -> list[str]:
    """Names of the real architectures shipped as config files (no weights)."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.json"))


def shipped_config(name: str) -> dict:
    """The shipped config.json of `name` (see shipped_configs), without its provenance note."""
    path = CONFIGS_DIR / f"{name}.json"
    if not path.exists():
        raise ValueError(f"no shipped config {name!r}; known: {', '.join(shipped_configs())}")
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def fill_vocab(tok, size: int):
    """A `tokenizers.Tokenizer` like `tok` whose vocabulary has exactly `size` ids: the extra ids are plain BPE
    entries that no merge leads to (never produced by encoding, decoded as `<fill_N>`), so every id a random
    model with the real vocabulary samples decodes, as the real tokenizer's padded rows would."""
    from tokenizers import Tokenizer

    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    taken = {a["id"] for a in state["added_tokens"]} | set(vocab.values())
    if len(taken) > size:
        raise ValueError(f"tokenizer already has {len(taken)} ids > {size}")
    for i in range(size):
        if i not in taken:
            vocab[f"<fill_{i}>"] = i
    return Tokenizer.from_str(json.dumps(state))


def build_from_config(out_dir: str | Path, name: str, *, tokenizer_vocab: int = 8192, seed: int = 0,
                      save_dtype: str = "bfloat16") -> Path:
    """Write a randomly initialised model of a shipped architecture (`name`, e.g. qwen2.5-0.5b) with a locally
    trained tokenizer filled to the model's vocabulary size; cached by arguments like build_tiny_model.
    Saved in `save_dtype` (as the real checkpoints); learners and engines cast on load."""
    out_dir = Path(out_dir)
    spec = shipped_config(name)
    args = dict(config=name, spec=hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16],
                tokenizer_vocab=tokenizer_vocab, seed=seed, save_dtype=save_dtype)
    stamp = out_dir / "rlvr_tiny.json"
    if stamp.exists() and json.loads(stamp.read_text()) == args:
        return out_dir

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = train_tokenizer(corpus_texts(), tokenizer_vocab, split_digits=True, fill_to=spec["vocab_size"])
    config = Qwen2Config(**{**spec, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
                            "bos_token_id": None, "torch_dtype": save_dtype})
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(getattr(torch, save_dtype))
    _save_atomic(out_dir, model, tokenizer, args)
    return out_dir


def _save_atomic(out_dir: Path, model, tokenizer, args: dict) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp", dir=out_dir.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "rlvr_tiny.json").write_text(json.dumps(args))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def build_tiny_model(
    out_dir: str | Path,
    *,
    texts: Optional[list[str]] = None,
    vocab_size: int = 1024,
    hidden: int = 128,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 1,
    intermediate: int = 256,
    max_positions: int = 2048,
    tie_word_embeddings: bool = False,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised Qwen2ForCausalLM + tokenizer to `out_dir` (atomic; cached by arguments)."""
    out_dir = Path(out_dir)
    args = dict(vocab_size=vocab_size, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
                intermediate=intermediate, max_positions=max_positions, tie=tie_word_embeddings, seed=seed,
                corpus=hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16] if texts else "default")
    stamp = out_dir / "rlvr_tiny.json"
    if stamp.exists() and json.loads(stamp.read_text()) == args:
        return out_dir

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = train_tokenizer(texts if texts is not None else corpus_texts(), vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv_heads, intermediate_size=intermediate, max_position_embeddings=max_positions,
        tie_word_embeddings=tie_word_embeddings, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    _save_atomic(out_dir, model, tokenizer, args)
    return out_dir


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    for name, default in [("vocab_size", 1024), ("hidden", 128), ("layers", 2), ("heads", 2), ("kv_heads", 1),
                          ("intermediate", 256), ("seed", 0)]:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=int, default=default)
    p.add_argument("--tie-word-embeddings", action="store_true")
    p.add_argument("--config", choices=shipped_configs(), default=None,
                   help="a shipped real architecture (random weights); the size flags above are then ignored")
    p.add_argument("--tokenizer-vocab", type=int, default=8192,
                   help="with --config: the trained tokenizer vocabulary (then filled to the model's)")
    a = vars(p.parse_args(argv))
    out = a.pop("out_dir")
    if a["config"]:
        print(build_from_config(out, a["config"], tokenizer_vocab=a["tokenizer_vocab"], seed=a["seed"]))
        return
    a.pop("config"), a.pop("tokenizer_vocab")
    a["tie_word_embeddings"] = a.pop("tie_word_embeddings")
    print(build_tiny_model(out, **a))


if __name__ == "__main__":
    main()
