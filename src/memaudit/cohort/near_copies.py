"""Near copies: records that real extracts repeat imperfectly (a patient re-registered with shifted
dates, a code added or dropped), found by the Jaccard similarity of their code multisets.

A record is the multiset of its timed codes (birth rows and static rows excluded, as for exact
copies); dates do not enter, so a copy shifted in time and missing one code out of forty is
similarity 39/40. Candidates come from MinHash locality-sensitive hashing computed as polars
expressions (no Python loop over subjects), are thinned by the MinHash estimate of their
similarity (numpy over the signatures), and every pair left is checked with the exact multiset
Jaccard, so the hashing only decides which pairs are looked at.

    s1 = [A, B, C, ..., (40 codes)]   s2 = s1 without B, every date + 30 days
    → one pair (s1, s2, similarity 0.975)

The LSH uses BANDS bands of ROWS minima each: a pair of similarity s is a candidate with
probability 1 − (1 − s^ROWS)^BANDS, 0.999 at s = 0.9 and 0.05 at s = 0.5.
"""

from __future__ import annotations

import numpy as np
import polars as pl

BANDS, ROWS = 12, 8
# a candidate is compared exactly when its MinHash estimate reaches the threshold less this margin
# (the estimate's standard deviation at J = 0.9 over 96 minima is 0.03: the margin is 5 of them)
ESTIMATE_MARGIN = 0.15
CHUNK = 200_000  # candidate pairs compared at a time
# below this many timed events one differing code already puts the similarity under 0.9
MIN_NEAR_COPY_EVENTS = 10
_MINHASH_SEED = 7919  # the hash functions' seeds start here: fixed, so results never vary by run


def code_multisets(rows: pl.LazyFrame, birth_code: str) -> pl.LazyFrame:
    """(subject_id, element) with one element per occurrence: code A twice is A#0 and A#1, so set
    operations on elements are multiset operations on codes."""
    return (
        rows.filter(pl.col("time").is_not_null() & (pl.col("code") != birth_code))
        .select("subject_id", "code")
        .with_columns(pl.col("code").cum_count().over("subject_id", "code").alias("occurrence"))
        .select(
            "subject_id",
            pl.concat_str(pl.col("code"), pl.col("occurrence").cast(pl.String), separator="#")
            .hash(seed=_MINHASH_SEED)
            .alias("element"),
        )
    )


_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 whose every output bit depends on every input
    bit, so `_mix(x ^ seed)` for different seeds act as independent hash functions."""
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return x ^ (x >> np.uint64(31))


def _signatures(elements: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[pl.DataFrame]]:
    """MinHash signatures: (subject ids (n,), minima (n, BANDS * ROWS) uint32, each band's buckets
    of at least two subjects). Each element is hashed once (polars); the BANDS * ROWS hash
    functions are that hash mixed with a seed of each, minimised per subject by numpy's `reduceat`
    over the subject-sorted elements: one vectorised pass per function, no loop over subjects."""
    ordered = elements.sort("subject_id")
    subjects = ordered["subject_id"].to_numpy()
    hashed = ordered["element"].to_numpy().astype(np.uint64, copy=False)
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    seeds = _mix(np.arange(1, BANDS * ROWS + 1, dtype=np.uint64) + np.uint64(_MINHASH_SEED))
    # the low 32 bits of each minimum: equal minima stay equal, unequal ones collide once in 4e9
    minima = np.empty((starts.size, BANDS * ROWS), dtype=np.uint32)
    with np.errstate(over="ignore"):  # uint64 products wrap by design
        for j, seed in enumerate(seeds):
            minima[:, j] = np.minimum.reduceat(_mix(hashed ^ seed), starts) & np.uint64(0xFFFFFFFF)
        ids, buckets = subjects[starts], []
        for band in range(BANDS):
            key = np.zeros(starts.size, dtype=np.uint64)
            for column in minima[:, band * ROWS : (band + 1) * ROWS].T:
                key = _mix(key ^ column.astype(np.uint64))
            keyed = pl.DataFrame({"subject_id": ids, "key": key})
            buckets.append(
                keyed.group_by("key")
                .agg(pl.col("subject_id").sort())
                .filter(pl.col("subject_id").list.len() > 1)
            )
    return ids, minima, buckets


def _candidates(
    ids: np.ndarray,
    signatures: np.ndarray,
    buckets: list[pl.DataFrame],
    sizes: np.ndarray,
    threshold: float,
) -> pl.DataFrame:
    """(a, b) subject pairs, a < b, that share all ROWS minima of at least one band, whose sizes
    allow a Jaccard of `threshold` (the smaller multiset holds at least that share of the larger),
    and whose MinHash estimate of the similarity (the share of equal minima over every band)
    reaches `threshold − ESTIMATE_MARGIN`: buckets of records made mostly of common codes hold
    many pairs that are not near copies, and this drops them before any exact comparison. The
    estimate is counted band by band, and a pair leaves as soon as its mismatches already put it
    below the floor. ids (n,), signatures (n, BANDS * ROWS), sizes (n,): aligned by subject."""
    empty = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})
    if not buckets:
        return empty
    pairs = pl.concat(
        [
            b.select(pl.col("subject_id").alias("a"), pl.col("subject_id").alias("b"))
            .explode("a")
            .explode("b")
            .filter(pl.col("a") < pl.col("b"))
            for b in buckets
        ]
    ).unique()
    a = np.searchsorted(ids, pairs["a"].to_numpy())
    b = np.searchsorted(ids, pairs["b"].to_numpy())
    fits = np.minimum(sizes[a], sizes[b]) >= threshold * np.maximum(sizes[a], sizes[b])
    a, b = a[fits], b[fits]
    allowed = int((1 - (threshold - ESTIMATE_MARGIN)) * signatures.shape[1])  # mismatches a pair may have
    alive = np.arange(a.size)
    mismatches = np.zeros(a.size, dtype=np.int32)
    for band in range(BANDS):
        cols = slice(band * ROWS, (band + 1) * ROWS)
        for start in range(0, alive.size, CHUNK):  # bounded memory: CHUNK pairs × one band
            rows = alive[start : start + CHUNK]
            mismatches[rows] += (signatures[a[rows], cols] != signatures[b[rows], cols]).sum(1)
        alive = alive[mismatches[alive] <= allowed]
    return pl.DataFrame({"a": ids[a[alive]], "b": ids[b[alive]]}, schema={"a": pl.Int64, "b": pl.Int64})


def _exact_similarity(elements: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Multiset Jaccard |A ∩ B| / |A ∪ B| of each pair, from the element sets."""
    sizes = elements.group_by("subject_id").len("n")
    shared = (
        pairs.join(elements.rename({"subject_id": "a"}), on="a")
        .join(elements.rename({"subject_id": "b"}), on=["b", "element"])
        .group_by("a", "b")
        .len("shared")
    )
    return (
        pairs.join(shared, on=["a", "b"], how="left")
        .with_columns(pl.col("shared").fill_null(0))
        .join(sizes.rename({"subject_id": "a", "n": "n_a"}), on="a")
        .join(sizes.rename({"subject_id": "b", "n": "n_b"}), on="b")
        .with_columns(
            (pl.col("shared") / (pl.col("n_a") + pl.col("n_b") - pl.col("shared"))).alias("similarity")
        )
        .select("a", "b", "similarity")
    )


def near_copy_pairs(
    rows: pl.LazyFrame, birth_code: str, threshold: float, sequences: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Pairs of subjects (a < b) whose code multisets are at least `threshold` Jaccard-similar,
    with their similarity, most similar first. Given the subjects' `sequences` (the
    `timeline_signatures` of repeated_records.py: subject_id, codes_hash), pairs whose code
    sequences are the same (exact copies, found there) are left out: only one subject of each
    exact group is compared, so a near copy of an exactly repeated record pairs with that one.

    rows: MEDS rows (subject_id, time, code). Records of fewer than MIN_NEAR_COPY_EVENTS timed
    events are not compared."""
    elements = code_multisets(rows, birth_code).collect()
    sizes = elements.group_by("subject_id").len("n").filter(pl.col("n") >= MIN_NEAR_COPY_EVENTS)
    if sequences is not None:
        first_of_each = sequences.group_by("codes_hash").agg(pl.col("subject_id").min())
        sizes = sizes.join(first_of_each.select("subject_id"), on="subject_id")
    elements = elements.join(sizes.select("subject_id"), on="subject_id")
    if elements.is_empty():
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
    ids, signatures, buckets = _signatures(elements)
    n = sizes.sort("subject_id")["n"].to_numpy()  # aligned with ids: both sorted by subject
    pairs = _candidates(ids, signatures, buckets, n, threshold)
    if pairs.is_empty():
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
    checked = _exact_similarity(elements, pairs)
    return checked.filter(pl.col("similarity") >= threshold).sort(
        "similarity", "a", "b", descending=[True, False, False]
    )


def clusters(pairs: pl.DataFrame) -> list[list[int]]:
    """The connected sets of subjects that the pairs link (union-find), each sorted, in order of
    their first subject."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(pairs["a"].to_list(), pairs["b"].to_list()):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in parent:
        groups.setdefault(root(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
