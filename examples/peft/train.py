#!/usr/bin/env python3
"""A FedSim external trainer: PyTorch + Hugging Face PEFT LoRA on a causal LM from your own disk.

FedSim (workload.train.external) runs this once per call with the path of a JSON request as the
last argument (protocol "fedsim.trainer/1"; see README.md). The request's "kind":

  initialize  build the PEFT model, LoRA seeded with the request's run_seed (PEFT's own init: A
              Kaiming-uniform, B zero), write its LoRA tensors (PEFT's names, as
              get_peft_model_state_dict gives them) to "output" and {"samples": [one count per
              data shard], "flops_per_sample"} (and, for information, "n_base", "n_lora") to
              "result";
  train       load the base model and the global adapter ("adapter"), train the LoRA of shard
              "shard" with AdamW for "local_steps" (null: --steps) steps of --batch windows drawn
              with the request's "seed", B only when "freeze_a" (FFA-LoRA), write the trained
              adapter (same names and shapes, float32) to "output" and {"samples", "loss",
              "seconds"} to "result";
  evaluate    load "adapter", compute mean next-token cross-entropy ("loss", nats per token),
              next-token accuracy (arg-max) and perplexity on the held-out text, write
              {"metrics": {...}} to "result".

Everything runs offline (HF_HUB_OFFLINE=1, local_files_only=True): --model is a folder with a
Hugging Face transformers causal LM (config.json, weights, tokenizer). Bad usage, requests or
data: a message on stderr and exit 2; a failure while training: exit 1.

Data (--data, a text file or folder; see textdata.py): documents split into shards
deterministically (--split iid | contiguous | files), every --held-out-every-th document held out
for evaluation. A sample is a window of --seq-len + 1 tokens; a shard's sample count is the windows
its text holds (FedAvg's weight for the clients training it: client i trains shard i mod S).

Compute (flops_per_sample): fedsim charges a client the "samples" its train result reports ×
flops_per_sample FLOPs. One training window costs seq_len · (4·N_base + 6·N_lora) FLOPs (forward
2·N per token for every weight; the backward pass forms input gradients through the frozen base,
2·N_base, and input and weight gradients for LoRA, 4·N_lora; N_base counts the base's weights
except the input embedding, a look-up), so flops_per_sample is that, and a train result reports
the windows it trained on, steps × batch, whatever the shard's size (the local steps of the request,
or --steps). The shard sizes from initialize are FedAvg's weights.
"""
import argparse
import json
import math
import os
import sys
import time

STARTED = time.perf_counter()
PROTOCOL = "fedsim.trainer/1"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import textdata  # noqa: E402  (standard library only until torch is needed)


class TrainerError(Exception):
    """A failure with a clear message: status 2 for bad usage, requests or data, 1 otherwise."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def parse_arguments(argv):
    p = argparse.ArgumentParser(
        prog="train.py",
        description="FedSim external trainer (protocol fedsim.trainer/1): Hugging Face PEFT LoRA on a local causal LM.",
        epilog="FedSim appends the request's path as the last argument (also in $FEDSIM_REQUEST).")
    p.add_argument("--model", required=True, metavar="DIR", help="a Hugging Face transformers causal-LM folder (offline)")
    p.add_argument("--data", action="append", metavar="PATH",
                   help="a text file or folder (repeatable); default: Debian's German fortunes, " + textdata.FORTUNES + "/de")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N", help="read at most N bytes of each --data path")
    p.add_argument("--shards", type=int, default=None, metavar="S", help="data shards (default: the request's clients); client i trains shard i mod S")
    p.add_argument("--split", choices=["iid", "contiguous", "files"], default="iid",
                   help="how documents are dealt to shards: shuffled (iid), in reading order (contiguous: neighbouring files, skewed), or whole files (files)")
    p.add_argument("--held-out-every", type=int, default=20, metavar="K", help="every K-th document is held out for evaluation (default 20)")
    p.add_argument("--eval-sequences", type=int, default=64, metavar="N", help="held-out windows per evaluation (default 64)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r (default 8)")
    p.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default 2·rank)")
    p.add_argument("--dropout", type=float, default=0.0, help="LoRA dropout (default 0)")
    p.add_argument("--targets", default="q_proj,v_proj", help="comma-separated module names LoRA adapts (default q_proj,v_proj)")
    p.add_argument("--batch", type=int, default=8, help="windows per step (default 8)")
    p.add_argument("--seq-len", type=int, default=64, help="tokens predicted per window (default 64)")
    p.add_argument("--steps", type=int, default=10, help="local steps when the request's local_steps is null (default 10)")
    p.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate (default 2e-4)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default 0, the Trainer's)")
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient-norm clipping, 0 for none (default 1.0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available; default)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="the base model's dtype (default float32; LoRA stays float32)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of torch (default: torch's own)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="tokenized-data cache ('none' for none; default $XDG_CACHE_HOME/fedsim-peft or ~/.cache/fedsim-peft)")
    p.add_argument("--timings", default=None, metavar="FILE", help="append one JSON line of phase timings per call to FILE")
    p.add_argument("request", nargs="?", help="the request (default: $FEDSIM_REQUEST)")
    a = p.parse_args(argv)
    a.request = a.request or os.environ.get("FEDSIM_REQUEST")
    if not a.request:
        raise TrainerError("no request: give its path as the last argument (fedsim does) or in $FEDSIM_REQUEST", 2)
    for name in ("rank", "batch", "seq_len", "steps", "eval_sequences"):
        if getattr(a, name) < 1:
            raise TrainerError(f"--{name.replace('_', '-')} must be ≥ 1", 2)
    if a.threads is not None and a.threads < 1:
        raise TrainerError("--threads must be ≥ 1", 2)
    if a.max_bytes is not None and a.max_bytes < 1:
        raise TrainerError("--max-bytes must be ≥ 1", 2)
    if a.alpha is None:
        a.alpha = 2.0 * a.rank
    a.targets = [t.strip() for t in a.targets.split(",") if t.strip()]
    if not a.targets:
        raise TrainerError("--targets names no module", 2)
    if not a.data:
        d = textdata.default_data("de")
        if d is None:
            raise TrainerError(f"no --data given and {textdata.FORTUNES}/de is missing (apt-get install fortunes-de, or give --data PATH)", 2)
        a.data = [d]
    if a.cache is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        a.cache = os.path.join(base, "fedsim-peft")
    elif a.cache.lower() == "none":
        a.cache = None
    return a


class Request:
    """The request's fields, checked (a bad one: exit 2 naming the key)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, encoding="utf-8") as f:
                self.fields = json.load(f)
        except OSError as e:
            raise TrainerError(f"{path}: cannot read the request: {e.strerror}", 2) from None
        except ValueError as e:
            raise TrainerError(f"{path}: not JSON: {e}", 2) from None
        if not isinstance(self.fields, dict):
            raise TrainerError(f"{path}: the request is not a JSON object", 2)
        if self.fields.get("protocol") != PROTOCOL:
            raise TrainerError(f"{path}: protocol: expected \"{PROTOCOL}\", found {json.dumps(self.fields.get('protocol'))}", 2)
        self.kind = self.string("kind")
        self.run_seed = self.integer("run_seed", 0)
        self.clients = self.integer("clients", 1)

    def _bad(self, key, expected):
        return TrainerError(f"{self.path}: {key}: expected {expected}, found {json.dumps(self.fields.get(key))}", 2)

    def string(self, key):
        v = self.fields.get(key)
        if not isinstance(v, str) or not v:
            raise self._bad(key, "a string")
        return v

    def integer(self, key, minimum, optional=False):
        v = self.fields.get(key)
        if v is None and optional:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise self._bad(key, f"an integer ≥ {minimum}" + (" or null" if optional else ""))
        return v

    def flag(self, key):
        v = self.fields.get(key, False)
        if not isinstance(v, bool):
            raise self._bad(key, "true or false")
        return v

    def get(self, key):
        return self.fields.get(key)


def write_json(path, value):
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)
            f.write("\n")
    except OSError as e:
        raise TrainerError(f"cannot write {path}: {e.strerror}") from None


class Session:
    """The model, data and settings of one call."""

    def __init__(self, args, request, timings):
        self.args = args
        self.request = request
        self.timings = timings
        t = time.perf_counter()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        if args.threads:
            for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[v] = str(args.threads)
        import torch
        import transformers
        import peft
        transformers.logging.set_verbosity_error()
        self.torch, self.transformers, self.peft = torch, transformers, peft
        if args.threads:
            torch.set_num_threads(args.threads)
        timings["import_s"] = time.perf_counter() - t
        if args.device == "auto":
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            try:
                self.device = torch.device(args.device)
            except RuntimeError as e:
                raise TrainerError(f"--device {args.device}: {e}", 2) from None
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise TrainerError(f"--device {args.device}: this torch sees no CUDA device", 2)
        self.shards = args.shards or request.clients
        if not 1 <= self.shards <= request.clients:
            raise TrainerError(f"--shards {self.shards}: expected 1 … {request.clients} (the request's clients)", 2)
        self._tokenizer = None

    # The model

    def load_model(self, seed_lora):
        """The base model from --model with PEFT LoRA on --targets; LoRA seeded when seed_lora is given."""
        torch, transformers, peft = self.torch, self.transformers, self.peft
        a = self.args
        t = time.perf_counter()
        if not os.path.isfile(os.path.join(a.model, "config.json")):
            raise TrainerError(f"--model {a.model}: no config.json there (a Hugging Face model folder is needed; make_tiny_model.py writes one)", 2)
        dtype = getattr(torch, a.dtype)
        from packaging import version
        key = "dtype" if version.parse(transformers.__version__) >= version.parse("4.56") else "torch_dtype"
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(a.model, local_files_only=True, **{key: dtype})
        except (OSError, ValueError) as e:
            raise TrainerError(f"--model {a.model}: cannot load it: {e}", 2) from None
        model.config.use_cache = False
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        missing = [m for m in a.targets if m not in names]
        if missing:
            linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
            raise TrainerError(f"--targets: the model has no module named {', '.join(missing)} (its linear layers: {', '.join(linear)})", 2)
        if seed_lora is not None:
            torch.manual_seed(seed_lora)
        config = peft.LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules=a.targets,
                                 bias="none", task_type="CAUSAL_LM", init_lora_weights=True if seed_lora is not None else False)
        model = peft.get_peft_model(model, config)
        model.to(self.device)
        self.model = model
        self.timings["load_s"] = time.perf_counter() - t
        return model

    def lora_state(self):
        """The LoRA tensors under PEFT's saved names (no adapter name), float32, contiguous, on the CPU."""
        state = self.peft.get_peft_model_state_dict(self.model)
        return {k: v.detach().to(device="cpu", dtype=self.torch.float32).contiguous() for k, v in state.items()}

    def load_adapter(self, path):
        """Sets the LoRA weights from a safetensors file holding exactly the model's LoRA tensors."""
        from safetensors.torch import load_file
        try:
            tensors = load_file(path)
        except Exception as e:  # safetensors raises several types for unreadable files
            raise TrainerError(f"{path}: cannot read the adapter: {e}", 2) from None
        expected = {k: tuple(v.shape) for k, v in self.peft.get_peft_model_state_dict(self.model).items()}
        found = {k: tuple(v.shape) for k, v in tensors.items()}
        if set(found) != set(expected):
            extra = sorted(set(found) - set(expected))[:3]
            missing = sorted(set(expected) - set(found))[:3]
            raise TrainerError(f"{path}: its tensors are not this model's LoRA (--rank, --targets must match the scenario's run): "
                               f"not in the model: {extra or 'none'}; missing: {missing or 'none'}", 2)
        for k, shape in expected.items():
            if found[k] != shape:
                raise TrainerError(f"{path}: {k} has shape {list(found[k])}, the model's is {list(shape)} (--rank must match)", 2)
        self.peft.set_peft_model_state_dict(self.model, tensors)

    def save_adapter(self, path):
        from safetensors.torch import save_file
        t = time.perf_counter()
        state = self.lora_state()
        bad = [k for k, v in state.items() if not bool(self.torch.isfinite(v).all())]
        if bad:
            raise TrainerError(f"training produced NaN or infinite values in {bad[0]} (lower --lr?)")
        try:
            save_file(state, path, metadata={"format": "pt"})
        except OSError as e:
            raise TrainerError(f"cannot write {path}: {e.strerror}") from None
        self.timings["save_s"] = time.perf_counter() - t

    def parameter_counts(self):
        """(N_base without the input embedding, N_lora)."""
        base = self.model.get_base_model()
        embedding = base.get_input_embeddings()
        embedding_ids = {id(p) for p in embedding.parameters()} if embedding is not None else set()
        output = base.get_output_embeddings()
        tied = output is not None and embedding is not None and output.weight is embedding.weight
        n_base = n_lora = 0
        for name, p in base.named_parameters():
            if "lora_" in name:
                n_lora += p.numel()
            elif id(p) not in embedding_ids or tied:
                n_base += p.numel()
        return n_base, n_lora

    # The data

    def tokenizer(self):
        if self._tokenizer is None:
            try:
                self._tokenizer = self.transformers.AutoTokenizer.from_pretrained(self.args.model, local_files_only=True)
            except (OSError, ValueError) as e:
                raise TrainerError(f"--model {self.args.model}: cannot load its tokenizer: {e}", 2) from None
        return self._tokenizer

    def data(self):
        """(shard token streams, held-out token stream)."""
        t = time.perf_counter()
        a = self.args
        try:
            corpus = textdata.load_corpus(a.data, a.max_bytes, a.model, self.tokenizer, a.cache)
            parts, held = textdata.split(corpus, self.shards, a.split, a.held_out_every, self.request.run_seed)
        except textdata.DataError as e:
            raise TrainerError(str(e), 2) from None
        self.timings["data_s"] = time.perf_counter() - t
        return parts, held, corpus

    def shard_counts(self):
        parts, _, corpus = self.data()
        return [textdata.window_count(corpus.stream(p), self.args.seq_len) for p in parts]

    # The kinds

    def initialize(self):
        r = self.request
        output, result = r.string("output"), r.string("result")
        self.load_model(seed_lora=r.run_seed)
        counts = self.shard_counts()
        if not any(counts):
            raise TrainerError(f"no shard holds a window of {self.args.seq_len + 1} tokens: more data, fewer --shards or a shorter --seq-len", 2)
        self.save_adapter(output)
        n_base, n_lora = self.parameter_counts()
        a = self.args
        flops = a.seq_len * (4 * n_base + 6 * n_lora)  # one training window
        write_json(result, {"protocol": PROTOCOL, "samples": counts, "flops_per_sample": flops,
                            "n_base": n_base, "n_lora": n_lora})

    def train(self):
        torch = self.torch
        r = self.request
        a = self.args
        shard = r.integer("shard", 0)
        if shard >= self.shards:
            raise TrainerError(f"{r.path}: shard {shard}: this trainer has {self.shards} shards (--shards)", 2)
        seed = r.integer("seed", 0)
        steps = r.integer("local_steps", 1, optional=True) or a.steps
        freeze_a = r.flag("freeze_a")
        adapter, output, result = r.string("adapter"), r.string("output"), r.string("result")
        torch.manual_seed(seed)
        model = self.load_model(seed_lora=None)
        self.load_adapter(adapter)
        parts, _, corpus = self.data()
        tokens = corpus.stream(parts[shard])
        samples = textdata.window_count(tokens, a.seq_len)
        if samples == 0:
            raise TrainerError(f"shard {shard} holds no window of {a.seq_len + 1} tokens", 2)
        t = time.perf_counter()
        trainable = []
        for name, p in model.named_parameters():
            train_it = "lora_B" in name or ("lora_A" in name and not freeze_a)
            p.requires_grad_(train_it)
            if train_it:
                trainable.append(p)
        optimizer = torch.optim.AdamW(trainable, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        model.train()
        losses = []
        for _ in range(steps):
            batch = textdata.random_windows(tokens, a.seq_len, a.batch, generator).to(self.device)
            logits = model(input_ids=batch[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if a.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trainable, a.max_grad_norm)
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainerError(f"the training loss became {value} at step {len(losses) + 1} (lower --lr?)")
            losses.append(value)
        seconds = time.perf_counter() - t
        self.timings["train_s"] = seconds
        self.timings["steps"] = steps
        self.save_adapter(output)
        # The windows trained on: what fedsim prices this client's compute on (× flops_per_sample).
        write_json(result, {"protocol": PROTOCOL, "samples": steps * a.batch, "loss": sum(losses) / len(losses), "seconds": seconds})

    def evaluate(self):
        torch = self.torch
        r = self.request
        a = self.args
        adapter, result = r.string("adapter"), r.string("result")
        model = self.load_model(seed_lora=None)
        self.load_adapter(adapter)
        _, held, corpus = self.data()
        windows = textdata.consecutive_windows(corpus.stream(held), a.seq_len, a.eval_sequences)
        if windows.shape[0] == 0:
            raise TrainerError(f"the held-out text holds no window of {a.seq_len + 1} tokens (more data or a smaller --held-out-every)", 2)
        t = time.perf_counter()
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for start in range(0, windows.shape[0], a.batch):
                batch = windows[start:start + a.batch].to(self.device)
                logits = model(input_ids=batch[:, :-1]).logits.float()
                targets = batch[:, 1:]
                total_loss += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum"))
                correct += int((logits.argmax(dim=-1) == targets).sum())
                count += targets.numel()
        self.timings["evaluate_s"] = time.perf_counter() - t
        loss = total_loss / count
        if not math.isfinite(loss):
            raise TrainerError(f"the evaluation loss is {loss}")
        write_json(result, {"protocol": PROTOCOL, "metrics": {"loss": loss, "accuracy": correct / count,
                                                               "perplexity": math.exp(min(loss, 700.0)), "tokens": count}})


def main(argv):
    args = parse_arguments(argv)
    request = Request(args.request)
    timings = {"kind": request.kind}
    for key in ("arm", "round", "client"):
        if request.get(key) is not None:
            timings[key] = request.get(key)
    if request.kind not in ("initialize", "train", "evaluate"):
        raise TrainerError(f"{request.path}: kind: expected \"initialize\", \"train\" or \"evaluate\", found {json.dumps(request.kind)}", 2)
    session = Session(args, request, timings)
    getattr(session, request.kind)()
    timings["total_s"] = time.perf_counter() - STARTED
    if args.timings:
        try:
            with open(args.timings, "a", encoding="utf-8") as f:
                f.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()}) + "\n")
        except OSError:
            pass


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except TrainerError as e:
        print(f"train.py: {e}", file=sys.stderr)
        sys.exit(e.status)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # an unexpected failure: the traceback helps, fedsim shows the last lines
        import traceback
        traceback.print_exc()
        print(f"train.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
