"""Shrinks a LoRA adapter written by train_encoder.py to a lower rank, in place of retraining.

`shrink_adapter.py IN OUT RANK`. Each low-rank update B·A (rank r) is replaced by its best
rank-RANK approximation (truncated SVD: B' = U_k sqrt(S_k), A' = sqrt(S_k) V_k^T), so the
shipped file stays under the repository's 4 MiB limit for large files. The other tensors and the
metadata are copied; the metadata records the rank the adapter was trained at and the share of
the updates' energy (squared singular values) that was kept.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

src, dst, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
with safe_open(src, "np") as f:
    meta = dict(f.metadata() or {})
    tensors = {k: f.get_tensor(k) for k in f.keys()}
out, kept, total = {}, 0.0, 0.0
for name, t in tensors.items():
    if not (name.startswith("lora.") and name.endswith(".A")):
        if not (name.startswith("lora.") and name.endswith(".B")):
            out[name] = t
        continue
    stem = name[: -len(".A")]
    a, b = t.astype(np.float64), tensors[stem + ".B"].astype(np.float64)
    u, s, vt = np.linalg.svd(b @ a, full_matrices=False)
    k = min(rank, a.shape[0])
    kept, total = kept + float((s[:k] ** 2).sum()), total + float((s ** 2).sum())
    root = np.sqrt(s[:k])
    out[stem + ".B"] = (u[:, :k] * root).astype(t.dtype)
    out[stem + ".A"] = (root[:, None] * vt[:k]).astype(t.dtype)
meta["trained_rank"] = meta.get("trained_rank", meta.get("rank", ""))
meta["rank"] = str(rank)
meta["energy_kept"] = f"{kept / max(total, 1e-30):.6f}"
save_file(out, dst, metadata=meta)
print(f"{dst}: rank {rank}, energy kept {kept / max(total, 1e-30):.4f}")
