"""Peer for `cargo xtask eval` and `cargo xtask bench`: Python trafilatura over the same pages,
timed in-process.

`peer_trafilatura.py PAGES_DIR [--metadata] [--comments]`. Reads every `*.html.gz` in PAGES_DIR
and prints one JSON line per page ({"file": file name, "text"}) and a last line
{"seconds": total}. Reading and decompressing the files is not timed. Comments are left out of
the main text (as Storyline does) unless `--comments` is given. With `--metadata`, trafilatura
also extracts what `storyline extract` does besides the text (title, author, date, site name,
...: `with_metadata=True`), so both sides do the same job.
"""
import gzip
import json
import pathlib
import sys
import time

import trafilatura

pages_dir = pathlib.Path(sys.argv[1])
metadata = "--metadata" in sys.argv[2:]
comments = "--comments" in sys.argv[2:]
pages = []
for path in sorted(pages_dir.glob("*.html.gz")):
    try:
        pages.append((path.name, gzip.decompress(path.read_bytes()).decode("utf-8", "replace")))
    except OSError:
        pages.append((path.name, ""))
start = time.perf_counter()
if metadata:
    results = [(f, trafilatura.extract(html, with_metadata=True, include_comments=comments, output_format="json")) for f, html in pages]
    seconds = time.perf_counter() - start
    results = [(f, json.loads(r)["text"] if r else "") for f, r in results]
else:
    results = [(f, trafilatura.extract(html, include_comments=comments) or "") for f, html in pages]
    seconds = time.perf_counter() - start
for f, text in results:
    print(json.dumps({"file": f, "text": text}))
print(json.dumps({"seconds": seconds}))
