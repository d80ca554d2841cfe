"""Peer for `cargo xtask bench`: Python trafilatura over the same pages, timed in-process.

`peer_trafilatura.py DIR [--metadata]`. Prints one JSON line per page ({"file", "text"}) and a
last line {"seconds": total}. Reading and decompressing the files is not timed. With
`--metadata`, trafilatura also extracts what `storyline extract` does besides the text (title,
author, date, site name, ...: `with_metadata=True`), so both sides do the same job.
"""
import gzip
import json
import pathlib
import sys
import time

import trafilatura

bench = pathlib.Path(sys.argv[1])
metadata = "--metadata" in sys.argv[2:]
gold = json.loads((bench / "gold.json").read_text())
pages = []
for entry in gold.values():
    path = bench / entry["file"]
    try:
        pages.append((entry["file"], gzip.decompress(path.read_bytes()).decode("utf-8", "replace")))
    except OSError:
        pages.append((entry["file"], ""))
start = time.perf_counter()
if metadata:
    results = [(f, trafilatura.extract(html, with_metadata=True, output_format="json")) for f, html in pages]
    seconds = time.perf_counter() - start
    results = [(f, json.loads(r)["text"] if r else "") for f, r in results]
else:
    results = [(f, trafilatura.extract(html) or "") for f, html in pages]
    seconds = time.perf_counter() - start
for f, text in results:
    print(json.dumps({"file": f, "text": text}))
print(json.dumps({"seconds": seconds}))
