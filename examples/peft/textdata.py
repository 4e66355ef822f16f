"""Plain-text data for the PEFT example: reading, tokenizing (cached), sharding and windows.

Shared by train.py and make_tiny_model.py; needs only the Python standard library and torch.

A data PATH is a text file or a folder. A folder's documents are its regular files in name order
(not recursive; hidden files, symbolic links and the fortune index files `*.dat` are skipped, so
Debian's /usr/share/games/fortunes/ and its language subfolders read as they are). A file is split
into documents at lines holding only "%" (the `fortune` format) when it has such lines, otherwise
at blank lines (paragraphs). Text is decoded as UTF-8 (invalid bytes replaced).

Tokens: each document's tokens followed by the tokenizer's end-of-sequence token (when it has one),
so documents never run into each other unmarked. The token stream of a set of documents is cut into
samples: windows of seq_len + 1 tokens (seq_len next-token predictions each).
"""
import hashlib
import json
import os
import random

FORTUNES = "/usr/share/games/fortunes"
# The tokenized-data cache's format: bump when what is cached changes.
CACHE_FORMAT = 1


class DataError(Exception):
    """Bad data or data options (a clear message for the user; exit status 2)."""


def data_files(path):
    """The files PATH stands for: itself, or a folder's regular files in name order."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DataError(f"--data {path}: no such file or folder")
    files = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.startswith(".") or name.endswith(".dat") or os.path.islink(full) or not os.path.isfile(full):
            continue
        files.append(full)
    if not files:
        raise DataError(f"--data {path}: the folder holds no text files (regular files, not *.dat, not links)")
    return files


def split_documents(text):
    """A file's documents: between lines holding only '%', or else between blank lines."""
    lines = text.replace("\r\n", "\n").split("\n")
    if any(line.strip() == "%" for line in lines):
        parts, current = [], []
        for line in lines:
            if line.strip() == "%":
                parts.append("\n".join(current))
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current))
    else:
        parts, current = [], []
        for line in lines:
            if line.strip():
                current.append(line)
            elif current:
                parts.append("\n".join(current))
                current = []
        parts.append("\n".join(current))
    return [p.strip("\n") for p in parts if p.strip()]


def read_documents(paths, max_bytes=None):
    """[(source, document)] of every path in order; max_bytes bounds the bytes read from each path."""
    out = []
    for path in paths:
        budget = max_bytes
        for file in data_files(path):
            if budget is not None and budget <= 0:
                break
            try:
                with open(file, "rb") as f:
                    raw = f.read() if budget is None else f.read(budget)
            except OSError as e:
                raise DataError(f"{file}: cannot read: {e.strerror}") from None
            if budget is not None:
                budget -= len(raw)
            source = os.path.relpath(file, path) if os.path.isdir(path) else os.path.basename(file)
            out.extend((source, d) for d in split_documents(raw.decode("utf-8", errors="replace")))
    if not out:
        raise DataError(f"--data {', '.join(paths)}: no text in it")
    return out


def fingerprint_files(paths):
    """What identifies data files for the cache: name, size and modification time of each."""
    entries = []
    for path in paths:
        for file in data_files(path):
            st = os.stat(file)
            entries.append([os.path.abspath(file), st.st_size, st.st_mtime_ns])
    return entries


def tokenizer_fingerprint(model_dir):
    """A hash of the tokenizer files in a model folder (the cache's key; no tokenizer is loaded)."""
    h = hashlib.sha256()
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
             "tokenizer.model", "vocab.txt", "added_tokens.json")
    found = False
    for name in names:
        p = os.path.join(model_dir, name)
        if os.path.isfile(p):
            found = True
            h.update(name.encode())
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    if not found:
        h.update(os.path.abspath(model_dir).encode())
    return h.hexdigest()


class Corpus:
    """Tokenized documents: one flat token tensor, document boundaries and each document's source."""

    def __init__(self, tokens, offsets, sources, source_names):
        self.tokens = tokens            # int64 tensor, every document's tokens (+ EOS) in order
        self.offsets = offsets          # list of len(documents) + 1 starts
        self.sources = sources          # per document: index into source_names
        self.source_names = source_names

    @property
    def documents(self):
        return len(self.offsets) - 1

    def stream(self, indices):
        """The tokens of the documents at `indices`, in that order, as one tensor."""
        import torch
        if not indices:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat([self.tokens[self.offsets[i]:self.offsets[i + 1]] for i in indices])


def load_corpus(paths, max_bytes, model_dir, load_tokenizer, cache_dir):
    """The tokenized corpus of `paths`, from the cache when the data and tokenizer are unchanged.

    load_tokenizer: called (with no arguments) only on a cache miss.
    cache_dir: a folder for the cache, or None for none.
    """
    import torch
    key = None
    if cache_dir:
        spec = {"format": CACHE_FORMAT, "files": fingerprint_files(paths), "max_bytes": max_bytes,
                "tokenizer": tokenizer_fingerprint(model_dir)}
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]
        cached = os.path.join(cache_dir, f"tokens-{key}.pt")
        if os.path.isfile(cached):
            try:
                d = torch.load(cached)
                return Corpus(d["tokens"], d["offsets"], d["sources"], d["source_names"])
            except Exception:  # a damaged cache entry is rebuilt
                pass
    docs = read_documents(paths, max_bytes)
    tokenizer = load_tokenizer()
    eos = tokenizer.eos_token_id
    names, sources = [], []
    index = {}
    for source, _ in docs:
        if source not in index:
            index[source] = len(names)
            names.append(source)
        sources.append(index[source])
    encoded = tokenizer([d for _, d in docs], add_special_tokens=False)["input_ids"]
    offsets, flat = [0], []
    for ids in encoded:
        flat.extend(ids)
        if eos is not None:
            flat.append(eos)
        offsets.append(len(flat))
    tokens = torch.tensor(flat, dtype=torch.long)
    corpus = Corpus(tokens, offsets, sources, names)
    if cache_dir and key:
        try:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = os.path.join(cache_dir, f".tokens-{key}.{os.getpid()}.tmp")
            torch.save({"tokens": tokens, "offsets": offsets, "sources": sources, "source_names": names}, tmp)
            os.replace(tmp, os.path.join(cache_dir, f"tokens-{key}.pt"))  # atomic: parallel calls may race
        except OSError:
            pass  # no cache: slower, not wrong
    return corpus


def split(corpus, shards, mode, held_out_every, seed):
    """(shard document lists, held-out document list).

    Every held_out_every-th document (1-based: documents k·n − 1) is held out for evaluation, the same
    whatever the shards. The rest go to the shards:
      iid         shuffled with random.Random(seed), dealt round-robin (about equal, mixed domains);
      contiguous  in reading order cut into equal runs of documents: a shard holds neighbouring
                  documents, so files of different topics (a folder of fortunes) make skewed shards;
      files       whole source files, file k to shard k mod S (strongest skew, unequal sizes; a shard
                  may get none when there are fewer files than shards).
    """
    n = corpus.documents
    if held_out_every and held_out_every > 1:
        held = [i for i in range(n) if i % held_out_every == held_out_every - 1]
    else:
        held = []
    held_set = set(held)
    train = [i for i in range(n) if i not in held_set]
    if mode == "iid":
        order = list(train)
        random.Random(seed).shuffle(order)
        parts = [order[k::shards] for k in range(shards)]
    elif mode == "contiguous":
        parts = [train[len(train) * k // shards:len(train) * (k + 1) // shards] for k in range(shards)]
    elif mode == "files":
        parts = [[i for i in train if corpus.sources[i] % shards == k] for k in range(shards)]
    else:
        raise DataError(f"--split {mode}: expected iid, contiguous or files")
    return parts, held


def window_count(tokens, seq_len):
    """Samples a token stream holds: windows of seq_len + 1 tokens."""
    return int(tokens.numel()) // (seq_len + 1)


def random_windows(tokens, seq_len, batch, generator):
    """A batch of windows of seq_len + 1 tokens at uniform random starts (a [batch, seq_len + 1] tensor)."""
    import torch
    top = int(tokens.numel()) - (seq_len + 1)
    starts = torch.randint(0, top + 1, (batch,), generator=generator)
    return torch.stack([tokens[s:s + seq_len + 1] for s in starts.tolist()])


def consecutive_windows(tokens, seq_len, count):
    """The first `count` consecutive non-overlapping windows of seq_len + 1 tokens."""
    w = seq_len + 1
    k = min(count, int(tokens.numel()) // w)
    return tokens[:k * w].view(k, w)


def default_data(language="de"):
    """The Debian fortunes folder of a language ('en' = the root), or None when not installed."""
    path = FORTUNES if language == "en" else os.path.join(FORTUNES, language)
    return path if os.path.isdir(path) else None
