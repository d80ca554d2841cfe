"""Makes large inputs for the memory and throughput benchmarks from the bundled samples.

usage: gen-large.py OUT_DIR MEGABYTES
Writes OUT_DIR/big.jsonl (one article per line, the samples' text with a numbered variation so
every line is a different document) and OUT_DIR/big.txt (one huge plain-text document).
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
target = int(sys.argv[2]) * 1024 * 1024
out.mkdir(parents=True, exist_ok=True)
samples = [p.read_text() for p in sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.txt"))]
written = 0
n = 0
with open(out / "big.jsonl", "w") as f:
    while written < target:
        text = samples[n % len(samples)] + f"\n\nUpdate {n}: this is version {n} of the report."
        line = json.dumps({"id": f"gen-{n}", "text": text, "url": f"https://example.org/{n % 97}/{n}"}) + "\n"
        f.write(line)
        written += len(line)
        n += 1
with open(out / "big.txt", "w") as f:
    written = 0
    while written < target:
        f.write(samples[written % len(samples)])
        written += len(samples[written % len(samples)])
print(f"{n} JSONL documents, {target // (1024 * 1024)} MB each file")
