"""Code embeddings for T1's dEMD: PPMI-SVD over co-occurrence in non-member timelines (nothing
downloaded), the model's own input embeddings, or ICD-10-CM ontology paths."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def ppmi_svd(timelines: Iterable[Sequence[str]], dim: int = 32, window: int = 5) -> dict[str, np.ndarray]:
    """Positive pointwise mutual information of codes within `window` positions, reduced by SVD."""
    seqs = [list(s) for s in timelines]
    vocab = sorted({c for s in seqs for c in s})
    index = {c: i for i, c in enumerate(vocab)}
    n = len(vocab)
    if n == 0:
        return {}
    counts = np.zeros((n, n))
    for s in seqs:
        ids = np.array([index[c] for c in s])
        for off in range(1, window + 1):
            if ids.size > off:
                np.add.at(counts, (ids[:-off], ids[off:]), 1.0)
                np.add.at(counts, (ids[off:], ids[:-off]), 1.0)
    total = counts.sum()
    if total == 0:
        return {c: np.eye(n)[i] for c, i in index.items()}
    row = counts.sum(1, keepdims=True)
    col = counts.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * total / (row * col))
    ppmi = np.nan_to_num(np.maximum(pmi, 0.0), nan=0.0, posinf=0.0, neginf=0.0)
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    k = min(dim, n)
    vecs = u[:, :k] * np.sqrt(s[:k])
    return {c: vecs[i] for c, i in index.items()}


def icd_ontology(codes: Iterable[str]) -> dict[str, np.ndarray]:
    """One dimension per ICD-10-CM ancestor: codes sharing ancestors have similar vectors."""
    import simple_icd_10_cm as icd

    paths: dict[str, list[str]] = {}
    for c in codes:
        leaf = c.rsplit("//", 1)[-1]
        paths[c] = [c] + (
            icd.get_ancestors(leaf)
            if c.startswith("DIAGNOSIS//ICD10CM//") and icd.is_valid_item(leaf)
            else []
        )
    nodes = sorted({a for p in paths.values() for a in p})
    index = {a: i for i, a in enumerate(nodes)}
    out = {}
    for c, p in paths.items():
        v = np.zeros(len(nodes))
        v[[index[a] for a in p]] = 1.0
        out[c] = v
    return out


def normalised_matrix(codes: Sequence[str], embeddings: Mapping[str, np.ndarray]) -> np.ndarray:
    """Unit-norm rows for `codes`; unknown codes get zero rows (similar only to themselves)."""
    dim = len(next(iter(embeddings.values()))) if embeddings else 1
    m = np.zeros((len(codes), dim))
    rows = [embeddings.get(c) for c in codes]
    known = [i for i, v in enumerate(rows) if v is not None]
    if known:
        v = np.asarray([rows[i] for i in known], float)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        m[known] = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return m
