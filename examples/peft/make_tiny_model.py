#!/usr/bin/env python3
"""Writes a tiny Llama-architecture causal LM (and its tokenizer) into a folder, offline.

So that the PEFT example runs on a machine without any downloaded model: the folder is an ordinary
Hugging Face model folder (config.json, model.safetensors, tokenizer.json, ...) that
AutoModelForCausalLM / AutoTokenizer load with local_files_only=True, as they load a real one.

The tokenizer is a byte-level BPE (the GPT-2 / Llama 3 kind) trained here with the `tokenizers`
library on the text given (--tokenizer-text, default: Debian's English, German, Spanish and Italian
fortunes), with "<|endoftext|>" as its end-of-sequence token; nothing is downloaded. The model is a
transformers.LlamaForCausalLM with random weights (seeded), then briefly pretrained on every weight
(--pretrain-steps of AdamW on --pretrain-text, default the English fortunes) so that LoRA
fine-tuning on other text (the example's German, Spanish and Italian fortunes) starts from a model
that knows something, as it would with a real base model. --pretrain-steps 0 leaves it random.

Defaults: width 128, 2 layers, 4 heads, SwiGLU hidden 344, vocabulary 1,024: about 0.66 M
parameters; with LoRA r = 8 on q_proj and v_proj every A and B matrix has 1,024 entries, the size
from which FedSim's codecs sparsify (codec min_sparse_entries).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import textdata  # noqa: E402

EOS = "<|endoftext|>"


def arguments(argv):
    p = argparse.ArgumentParser(prog="make_tiny_model.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(HERE, "tiny-model"), help="the model folder to write (default: tiny-model beside this script)")
    p.add_argument("--force", action="store_true", help="overwrite an existing folder")
    p.add_argument("--tokenizer-text", action="append", metavar="PATH", help="text (file or folder, repeatable) the tokenizer is trained on")
    p.add_argument("--pretrain-text", action="append", metavar="PATH", help="text (file or folder, repeatable) the model is pretrained on")
    p.add_argument("--max-bytes", type=int, default=3_000_000, help="bytes read per text path (default 3,000,000)")
    p.add_argument("--vocab", type=int, default=1024, help="tokenizer vocabulary size (default 1024)")
    p.add_argument("--hidden", type=int, default=128, help="model width (default 128)")
    p.add_argument("--layers", type=int, default=2, help="decoder layers (default 2)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--intermediate", type=int, default=None, help="SwiGLU hidden width (default 8/3·width rounded up to a multiple of 8)")
    p.add_argument("--context", type=int, default=512, help="max_position_embeddings (default 512)")
    p.add_argument("--pretrain-steps", type=int, default=400, help="AdamW steps on every weight (default 400; 0: random weights)")
    p.add_argument("--batch", type=int, default=16, help="windows per pretraining step (default 16)")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per pretraining window (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="pretraining learning rate (default 3e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the pretraining batches (default 0)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of torch (default: torch's own)")
    a = p.parse_args(argv)
    if a.hidden % a.heads:
        p.error("--hidden must be divisible by --heads")
    if a.intermediate is None:
        a.intermediate = int(math.ceil(8 * a.hidden / 3 / 8) * 8)
    def default(languages):
        paths = [d for d in (textdata.default_data(lang) for lang in languages) if d]
        if not paths:
            p.error(f"no text given and Debian's fortunes are not installed in {textdata.FORTUNES} "
                    "(apt-get install fortunes fortunes-de, or give --tokenizer-text and --pretrain-text)")
        return paths
    a.tokenizer_text = a.tokenizer_text or default(["en", "de", "es", "it"])
    a.pretrain_text = a.pretrain_text or default(["en"])
    return a


def train_tokenizer(paths, vocab, max_bytes):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    docs = [d for _, d in textdata.read_documents(paths, max_bytes)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(docs, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=None, pad_token=EOS,
                                   model_max_length=1 << 30), len(docs)


def evaluate(model, windows, torch):
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=windows[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
        accuracy = (logits.argmax(-1) == windows[:, 1:]).float().mean()
    model.train()
    return float(loss), float(accuracy)


def main(argv):
    a = arguments(argv)
    if os.path.exists(os.path.join(a.out, "config.json")) and not a.force:
        print(f"make_tiny_model.py: {a.out} exists (--force to overwrite)", file=sys.stderr)
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.threads:
        for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = str(a.threads)
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    transformers.logging.set_verbosity_error()
    if a.threads:
        torch.set_num_threads(a.threads)
    started = time.perf_counter()

    tokenizer, count = train_tokenizer(a.tokenizer_text, a.vocab, a.max_bytes)
    print(f"tokenizer: byte-level BPE, {len(tokenizer)} tokens, trained on {count} documents of {', '.join(a.tokenizer_text)}")

    torch.manual_seed(a.seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=a.hidden, intermediate_size=a.intermediate,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
                         max_position_embeddings=a.context, rms_norm_eps=1e-5, tie_word_embeddings=False,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id, use_cache=True)
    model = LlamaForCausalLM(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model: Llama, width {a.hidden}, {a.layers} layers, {a.heads} heads, hidden {a.intermediate}: {parameters:,} parameters")

    if a.pretrain_steps > 0:
        corpus = textdata.load_corpus(a.pretrain_text, a.max_bytes, None, lambda: tokenizer, None)
        parts, held = textdata.split(corpus, 1, "contiguous", 20, a.seed)
        tokens, held_tokens = corpus.stream(parts[0]), corpus.stream(held)
        windows = textdata.consecutive_windows(held_tokens, a.seq_len, 64)
        generator = torch.Generator().manual_seed(a.seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
        before = evaluate(model, windows, torch)
        t = time.perf_counter()
        model.train()
        for step in range(a.pretrain_steps):
            batch = textdata.random_windows(tokens, a.seq_len, a.batch, generator)
            logits = model(input_ids=batch[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        after = evaluate(model, windows, torch)
        print(f"pretraining: {a.pretrain_steps} steps of {a.batch}×{a.seq_len} tokens on {', '.join(a.pretrain_text)} "
              f"({tokens.numel():,} tokens) in {time.perf_counter() - t:.1f} s; held-out loss {before[0]:.3f} → {after[0]:.3f} "
              f"nats per token, accuracy {before[1]:.3f} → {after[1]:.3f}")

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    tmp = a.out.rstrip("/") + ".partial"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
        f.write("A tiny random-initialised, briefly pretrained Llama-architecture model written by FedSim's "
                "examples/peft/make_tiny_model.py, for testing only.\n\n```\n"
                + json.dumps({k: v for k, v in vars(a).items() if k not in ("out", "force")}, indent=2) + "\n```\n")
    os.replace(tmp, a.out)  # a folder appears only when complete
    print(f"wrote {a.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
