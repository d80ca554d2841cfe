#!/usr/bin/env python3
"""Inputs made to take memory (BENCHMARKS.md, "Bounded memory"): a line-less text file, twelve
and forty 8 MiB articles, and a gzipped WARC holding one record of SIZE bytes.

    python3 scripts/gen-hostile.py OUT_DIR [WARC_RECORD_BYTES]
"""
import gzip
import os
import sys

out = sys.argv[1]
record_size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
os.makedirs(out, exist_ok=True)
para = b"The council met on Monday and agreed to rebuild the old bridge over the river by next spring, officials said. "

with open(os.path.join(out, "lineless.txt"), "wb") as f:
    for _ in range(10000):
        f.write(b"w" * 100_000)

for name, count in (("twelve", 12), ("forty", 40)):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    for k in range(count):
        with open(os.path.join(out, name, f"doc{k:02}.txt"), "wb") as f:
            f.write(b"Headline number %d\n\n" % k)
            written = 0
            while written < 8 * 1024 * 1024 - 200:
                line = b"%d " % k + para * 3 + b"\n\n"
                f.write(line)
                written += len(line)

http_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
chunk = b"<p>" + para * 90 + b"</p>\n"
chunks = (record_size - len(http_head)) // len(chunk)
length = len(http_head) + chunks * len(chunk)
with gzip.open(os.path.join(out, "huge.warc.gz"), "wb", compresslevel=1) as g:
    g.write(
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://x.example/huge\r\nWARC-Date: 2021-05-13T00:00:00Z\r\n"
        b"WARC-Record-ID: <urn:uuid:9>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n" % length
    )
    g.write(http_head)
    for _ in range(chunks):
        g.write(chunk)
    g.write(b"\r\n\r\n")
