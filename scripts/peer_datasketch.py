"""Peer for `cargo xtask bench copies`: datasketch MinHash-LSH over the same texts and shingles
(word 5-grams of lower-cased alphanumeric words), 128 permutations, threshold 0.5.
Each article is inserted and queried, as an online copy step would. Prints one JSON line."""
import json
import re
import sys
import time

from datasketch import MinHash, MinHashLSH

texts = [json.loads(line)["text"] for line in open(sys.argv[1])]
word = re.compile(r"\w+")
start = time.perf_counter()
lsh = MinHashLSH(threshold=0.5, num_perm=128)
pairs = 0
for i, text in enumerate(texts):
    words = word.findall(text.lower())
    shingles = {" ".join(words[j:j + 5]).encode() for j in range(max(0, len(words) - 4))}
    m = MinHash(num_perm=128)
    m.update_batch(list(shingles))
    pairs += len(lsh.query(m))
    lsh.insert(str(i), m)
seconds = time.perf_counter() - start
print(json.dumps({"articles": len(texts), "seconds": seconds, "candidate_pairs": pairs}))
