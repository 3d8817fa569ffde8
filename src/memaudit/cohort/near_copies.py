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


def _signatures(elements: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[pl.DataFrame]]:
    """MinHash signatures: (subject ids (n,), minima (n, BANDS * ROWS), each band's buckets of at
    least two subjects). The minima are computed ROWS at a time, so memory holds one band's hashes
    of the elements, not all of them."""
    ids, columns, buckets = None, [], []
    for band in range(BANDS):
        seeds = range(_MINHASH_SEED + 1 + band * ROWS, _MINHASH_SEED + 1 + (band + 1) * ROWS)
        minima = (
            elements.group_by("subject_id")
            .agg([pl.col("element").hash(seed=s).min().alias(f"m{s}") for s in seeds])
            .sort("subject_id")
        )
        if ids is None:
            ids = minima["subject_id"].to_numpy()
        block = minima.drop("subject_id").to_numpy()
        columns.append(block)
        keyed = minima.select("subject_id", pl.concat_list(pl.exclude("subject_id")).hash().alias("key"))
        buckets.append(
            keyed.group_by("key").agg(pl.col("subject_id").sort()).filter(pl.col("subject_id").list.len() > 1)
        )
    return ids, np.hstack(columns), buckets


def _candidates(
    ids: np.ndarray, signatures: np.ndarray, buckets: list[pl.DataFrame], floor: float
) -> pl.DataFrame:
    """(a, b) subject pairs, a < b, that share all ROWS minima of at least one band and whose
    MinHash estimate of the similarity (the share of equal minima over every band) reaches
    `floor`: buckets of records made mostly of common codes hold many pairs that are not near
    copies, and this drops them before any exact comparison."""
    pairs = (
        pl.concat(
            [
                b.select(pl.col("subject_id").alias("a"), pl.col("subject_id").alias("b"))
                .explode("a")
                .explode("b")
                .filter(pl.col("a") < pl.col("b"))
                for b in buckets
            ]
        ).unique()
        if buckets
        else pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})
    )
    if pairs.is_empty():
        return pairs
    a = np.searchsorted(ids, pairs["a"].to_numpy())
    b = np.searchsorted(ids, pairs["b"].to_numpy())
    equal = np.zeros(a.size)
    for start in range(0, a.size, CHUNK):  # bounded memory: CHUNK pairs × one band at a time
        stop = min(start + CHUNK, a.size)
        for band in range(BANDS):
            cols = slice(band * ROWS, (band + 1) * ROWS)
            equal[start:stop] += (signatures[a[start:stop], cols] == signatures[b[start:stop], cols]).sum(1)
    return pairs.filter(pl.Series(equal / signatures.shape[1] >= floor))


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
    rows: pl.LazyFrame, birth_code: str, threshold: float, exclude_identical: bool = True
) -> pl.DataFrame:
    """Pairs of subjects (a < b) whose code multisets are at least `threshold` Jaccard-similar,
    with their similarity, most similar first. `exclude_identical` leaves out pairs whose code
    sequences are the same (exact copies, found by `repeated_records`): only one subject of each
    exact group is compared, so a near copy of an exactly repeated record pairs with that one.

    rows: MEDS rows (subject_id, time, code). Records of fewer than MIN_NEAR_COPY_EVENTS timed
    events are not compared."""
    elements = code_multisets(rows, birth_code).collect()
    sizes = elements.group_by("subject_id").len("n").filter(pl.col("n") >= MIN_NEAR_COPY_EVENTS)
    if exclude_identical:
        sequences = (
            rows.filter(pl.col("time").is_not_null() & (pl.col("code") != birth_code))
            .sort("subject_id", "time", "code")
            .group_by("subject_id")
            .agg(pl.col("code").str.join("\x1f").hash().alias("sequence"))
            .collect()
        )
        first_of_each = sequences.group_by("sequence").agg(pl.col("subject_id").min())
        sizes = sizes.join(first_of_each.select("subject_id"), on="subject_id")
    elements = elements.join(sizes.select("subject_id"), on="subject_id")
    if elements.is_empty():
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
    ids, signatures, buckets = _signatures(elements)
    pairs = _candidates(ids, signatures, buckets, threshold - ESTIMATE_MARGIN)
    n = dict(zip(sizes["subject_id"].to_list(), sizes["n"].to_list()))
    # a Jaccard of at least t needs the smaller multiset to hold at least t of the larger one
    keep = [
        (a, b)
        for a, b in zip(pairs["a"].to_list(), pairs["b"].to_list())
        if min(n[a], n[b]) >= threshold * max(n[a], n[b])
    ]
    if not keep:
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
    checked = _exact_similarity(
        elements, pl.DataFrame(keep, schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
    )
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
