"""T4 membership inference from one forward pass per timeline. Every score is oriented so that
higher means "more likely a member"."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...adapters.base import EMBED, SCORE, ScoreResult
from ...config.sections import Risk
from ...prompts.requests import REFERENCE, Embed, Request, Responses, Score
from ...published import Headline
from ..context import AuditContext
from ..coverage import Coverage
from ..handoffs import OperatingPoint
from ..registry import Audit, Earlier
from ..result import FAIL, PASS, WARN, Status, TestResult
from ..stats import MIN_NEGATIVES_PER_FPR, auroc, bootstrap_ci, epsilon_lower_bound, roc_curve, tpr_at_fpr
from . import report as report_fragment
from .repeated_arm import repeated_arm
from .settings import T4

NAME, TITLE = "T4", "Membership inference"
# what the test measures and how it judges: the report's Methods section
METHOD = (
    "Membership inference: from one forward pass over the whole timeline, scores such as the mean "
    "loss, Min-K%, Min-K%++ and a code-frequency analogue of the zlib ratio rank members above non-"
    "members. The attack with the largest AUROC decides the status, with an interval that holds for "
    "all attacks at once, because quoting the best of several with its own interval would overstate "
    "the risk (or the attack the configuration names, with its own interval). We "
    "report AUROC, the true-positive rate at low false-positive rates (only where there are at least "
    "ten times as many non-members as the rate requires), and a heuristic lower bound on the privacy "
    "loss ε whose threshold is chosen on half the subjects and checked on the other half. Every member "
    "record and every non-member is scored, so that low false-positive rates can be estimated. The members "
    "whose record the training data repeats (exact or near copies) form an arm of their own: how many of "
    "them each attack identifies at each low false-positive rate, by repetition band, with an exact "
    "p-value against the non-members; a few repeated records identified decide the status even when the "
    "average over all members shows little."
)


def loss_score(r: ScoreResult) -> float:
    """Negative mean loss, −(1/n) Σ −log p(x_t | x_<t) (Yeom et al., 2018)."""
    return float(np.mean(r.logprobs))


def min_k_score(r: ScoreResult, k: float) -> float:
    """Min-K% Prob: mean log-probability of the k% least likely codes (Shi et al., ICLR 2024)."""
    n = max(1, int(np.ceil(k * r.logprobs.size)))
    return float(np.mean(np.sort(r.logprobs)[:n]))


def min_k_plus_plus_score(r: ScoreResult, k: float) -> float:
    """Min-K%++: each code's log p standardised by the mean μ_t and std σ_t of log p under the
    model's next-code distribution, (log p(x_t) − μ_t) / σ_t, then Min-K% of those
    (Zhang et al., ICLR 2025)."""
    z = (r.logprobs - r.mean) / np.maximum(r.std, 1e-6)
    n = max(1, int(np.ceil(k * z.size)))
    return float(np.mean(np.sort(z)[:n]))


def zlib_analogue_score(
    r: ScoreResult, codes: Sequence[str], unigram_logp: Mapping[str, float], floor_logp: float
) -> float:
    """The zlib ratio of Carlini et al. (2021) in code space: the model's loss divided by the
    sequence's entropy under code frequencies, H = −(1/n) Σ log q(x_t). A member's loss is low
    relative to how surprising its codes are in the population."""
    entropy = -np.mean([unigram_logp.get(c, floor_logp) for c in codes])
    loss = -np.mean(r.logprobs)
    return float(-loss / max(entropy, 1e-6))


def masked_views(
    codes: Sequence[str], n_views: int, fraction: float, seed: int, mask_token: str
) -> list[tuple[str, ...]]:
    digest = hashlib.sha256(("\x1f".join(codes) + f"|{seed}").encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    views = []
    for _ in range(n_views):
        mask = rng.random(len(codes)) < fraction
        views.append(tuple(mask_token if m else c for c, m in zip(codes, mask)))
    return views


def _unigram(ctx: AuditContext) -> tuple[dict[str, float], float]:
    counts: dict[str, int] = {}
    for s in ctx.scored_non_members:
        for c in ctx.codes_of(s):
            counts[c] = counts.get(c, 0) + 1
    total = sum(counts.values()) + len(counts) + 1
    return {c: float(np.log((k + 1) / total)) for c, k in counts.items()}, float(np.log(1 / total))


def _subjects(ctx: AuditContext) -> list[int]:
    """Every subject T4 scores with one forward pass (`t4.population`)."""
    return sorted(ctx.scored_members + ctx.scored_non_members)


def _sampled(ctx: AuditContext) -> list[int]:
    """The sampled arms: the masked-embedding score costs `t4.mask_views` passes a subject."""
    return sorted(ctx.members + ctx.non_members)


def _masks(ctx: AuditContext) -> bool:
    """Whether the masked-embedding score can be computed: embeddings, and a token to mask with."""
    return EMBED in ctx.capabilities and ctx.mask_token is not None


def requests(ctx: AuditContext) -> list[Request]:
    out: list[Request] = [Score(ctx.codes_of(s)) for s in _subjects(ctx)]
    if _masks(ctx):
        cfg = ctx.config.t4
        for s in _sampled(ctx):
            views = masked_views(
                ctx.timelines[s].codes, cfg.mask_views, cfg.mask_fraction, ctx.config.seed, ctx.mask_token
            )
            out += [Embed(v) for v in views]
    if ctx.has_reference:
        out += [Score(ctx.codes_of(s), REFERENCE) for s in _subjects(ctx)]
    return out


def reference_scores(ctx: AuditContext, responses: Responses) -> dict[int, ScoreResult] | None:
    if not ctx.has_reference:
        return None
    return {s: responses[Score(ctx.codes_of(s), REFERENCE)] for s in _subjects(ctx)}


def subject_scores(
    ctx: AuditContext, responses: Responses, reference: Mapping[int, ScoreResult] | None = None
) -> dict[str, dict[int, float]]:
    cfg = ctx.config.t4
    k = cfg.min_k_fraction
    unigram, floor = _unigram(ctx)
    scores: dict[str, dict[int, float]] = {
        "loss": {},
        "min_k": {},
        "min_k_plus_plus": {},
        "zlib_analogue": {},
    }
    if reference:
        scores["reference_calibrated"] = {}
    if _masks(ctx):
        scores["masked_embedding_variance"] = {}
    for s in _subjects(ctx):
        codes = ctx.codes_of(s)
        r = responses[Score(codes)]
        scores["loss"][s] = loss_score(r)
        scores["min_k"][s] = min_k_score(r, k)
        scores["min_k_plus_plus"][s] = min_k_plus_plus_score(r, k)
        scores["zlib_analogue"][s] = zlib_analogue_score(r, codes, unigram, floor)
        if reference:
            # Watson et al. (2022), Carlini et al. (2022): the target's log-likelihood above the reference's
            scores["reference_calibrated"][s] = loss_score(r) - loss_score(reference[s])
    if _masks(ctx):
        for s in _sampled(ctx):
            codes = ctx.timelines[s].codes
            views = np.vstack(
                [
                    responses[Embed(v)]
                    for v in masked_views(
                        codes, cfg.mask_views, cfg.mask_fraction, ctx.config.seed, ctx.mask_token
                    )
                ]
            )
            scores["masked_embedding_variance"][s] = -float(views.var(axis=0).sum())
    return scores


def score_figures(pos: np.ndarray, neg: np.ndarray, ctx: AuditContext, rng: np.random.Generator) -> dict:
    """AUROC with its interval, the operating points and the ε bound of one score."""
    cfg = ctx.config.t4
    fpr, tpr = roc_curve(pos, neg)
    keep = np.unique(np.r_[0, np.linspace(0, len(fpr) - 1, 200).astype(int), len(fpr) - 1])
    return {
        "auroc": auroc(pos, neg),
        "auroc_ci95": list(bootstrap_ci(auroc, [pos, neg], rng, ctx.n_boot, ctx.confidence)),
        "tpr_at_fpr": [tpr_at_fpr(pos, neg, f, ctx.confidence) for f in cfg.fprs],
        "epsilon_lower_bound": epsilon_lower_bound(pos, neg, rng, cfg.delta, ctx.confidence),
        "roc": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()},
        "n_member": int(pos.size),
        "n_non_member": int(neg.size),
    }


def simultaneous_auroc_intervals(
    members: np.ndarray, non_members: np.ndarray, rng: np.random.Generator, n_boot: int, confidence: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """AUROC of every score with intervals that hold for all scores at once (max-type bootstrap).

    members: (n_scores, n_members), non_members: (n_scores, n_non_members), each row one score of
    the same subjects. Each bootstrap resamples the subjects of each arm once for every score (so
    their dependence is kept) and records max_k |AUROC_k* − AUROC_k|; its `confidence` quantile q
    gives AUROC_k ± q for every k. Returns (AUROC (n_scores,), lower bounds (n_scores,), q).
    Choosing the score with the largest AUROC after seeing the data is then paid for: under
    the null "members and non-members exchangeable for every score", every interval covers 0.5 at
    once with probability about `confidence`, the chosen one included."""
    k = members.shape[0]
    point = np.array([auroc(members[i], non_members[i]) for i in range(k)])
    worst = np.empty(n_boot)
    for b in range(n_boot):
        m = rng.integers(0, members.shape[1], members.shape[1])
        n = rng.integers(0, non_members.shape[1], non_members.shape[1])
        worst[b] = max(abs(auroc(members[i, m], non_members[i, n]) - point[i]) for i in range(k))
    q = float(np.quantile(worst, confidence))
    return point, point - q, q


def decide(ctx: AuditContext, arms: dict, by_score: dict) -> tuple[str, dict]:
    """Measure: the score that decides and its figures. With `t4.primary: auto`, the score with
    the largest AUROC, its interval simultaneous over all scores (`simultaneous_auroc_intervals`);
    with a score named, that score and its own interval. Picking the best of several and quoting
    its own interval would inflate the figure under the null."""
    if ctx.config.t4.primary != "auto":
        primary = ctx.config.t4.primary if ctx.config.t4.primary in by_score else "loss"
        return primary, {**by_score[primary], "judged_on": "every audited subject (pre-specified)"}
    names = sorted(arms)
    point, _, q = simultaneous_auroc_intervals(
        np.vstack([arms[n][0] for n in names]),
        np.vstack([arms[n][1] for n in names]),
        ctx.rng("T4 simultaneous"),
        ctx.n_boot,
        ctx.confidence,
    )
    primary = max(names, key=lambda n: (point[names.index(n)], n == "loss"))
    auc = by_score[primary]["auroc"]
    return primary, {
        **by_score[primary],
        "auroc_ci95": [max(0.0, auc - q), min(1.0, auc + q)],
        "interval": f"simultaneous over the {len(names)} scores (max-type bootstrap); the largest chosen",
        "judged_on": "every audited subject",
    }


LOW_FPR = 0.01  # operating points at or below this rate are "low": the gate reads them beside the AUROC


def judge(decided: dict, risk: Risk) -> Status:
    """Judge: fail or warn when the deciding AUROC's interval lies above 0.5 and the AUROC
    reaches `risk.t4_auroc_fail` or `risk.t4_auroc_warn`; warn too when, at a low FPR (≤ 1%), the
    TPR's Clopper-Pearson interval lies above the FPR: some members are identified beyond chance,
    whatever the average says."""
    low = [o for o in decided["tpr_at_fpr"] if o["status"] == "ok" and o["fpr"] <= LOW_FPR]
    identified = any(o["tpr_ci95"][0] > o["fpr"] for o in low)
    if decided["auroc_ci95"][0] <= 0.5:
        return WARN if identified else PASS
    if decided["auroc"] >= risk.t4_auroc_fail:
        return FAIL
    return WARN if decided["auroc"] >= risk.t4_auroc_warn or identified else PASS


def summarise(primary: str, decided: dict, n_attacks: int, auto: bool, arm: dict) -> str:
    """Summarise: the deciding attack, its AUROC and interval, its first operating point and ε,
    then the repeated-record arm."""
    first = decided["tpr_at_fpr"][0]
    tpr_text = (
        f"TPR {first['tpr']:.1%} at an achieved FPR of {first['achieved_fpr']:.1%}"
        if first["status"] == "ok"
        else f"too few non-members for an operating point at {first['fpr']:g} FPR"
    )
    chosen = (
        f"the largest of {n_attacks} attacks, its interval simultaneous over all" if auto else "pre-specified"
    )
    if arm["status"] == "none found":
        arm_text = "No member record is repeated in the data."
    elif arm["status"] == "insufficient":
        arm_text = f"{arm['n_records']} repeated member records, not judged: {arm['reason']}."
    else:
        arm_text = arm["line"].replace("T4 repeated records:", "Repeated records:") + "."
    return (
        f"The membership attack that decides ({primary}, {chosen}) reaches AUROC {decided['auroc']:.2f} "
        f"[{decided['auroc_ci95'][0]:.2f}, {decided['auroc_ci95'][1]:.2f}], {tpr_text}; heuristic ε lower "
        "bound "
        f"{decided['epsilon_lower_bound']['epsilon']:.2f}. {arm_text}"
    )


def worse(a: Status, b: Status) -> Status:
    order = (PASS, WARN, FAIL)
    return a if order.index(a) >= order.index(b) else b


def run(ctx: AuditContext, responses: Responses) -> TestResult:
    """Every score is reported; one decides the status, the operating points and ε (`decide`),
    over every scored subject; the repeated-record arm (`repeated_arm`) can raise the status."""
    cfg = ctx.config.t4
    rng = ctx.rng(NAME)
    scores = subject_scores(ctx, responses, reference_scores(ctx, responses))
    population = set(_subjects(ctx))
    arms = {
        name: (
            np.array([v[s] for s in ctx.scored_members if s in v]),
            np.array([v[s] for s in ctx.scored_non_members if s in v]),
        )
        for name, v in scores.items()
    }
    by_score = {
        name: {"role": "exploratory", **score_figures(pos, neg, ctx, rng)}
        for name, (pos, neg) in arms.items()
    }
    # only a score over every scored subject may decide (the masked-embedding one covers the sampled arms)
    covering = {name: a for name, a in arms.items() if population <= set(scores[name])}
    for name in set(arms) - set(covering):
        by_score[name]["scored_on"] = "the sampled arms"
    primary, decided = decide(ctx, covering, {n: by_score[n] for n in covering})
    by_score[primary]["role"] = "primary"
    judged_scores = sorted(covering) if cfg.primary == "auto" else [primary]
    arm = repeated_arm(
        {name: scores[name] for name in judged_scores},
        {s: r.times for s, r in ctx.cohort.repeated.items()},
        {s: r.near_copy_similarity for s, r in ctx.cohort.repeated.items()},
        ctx.scored_non_members,
        cfg.fprs,
        ctx.confidence,
        ctx.config.risk.fail_alpha(NAME),
    )
    decided["outcome"] = judge(decided, ctx.config.risk)
    status = worse(decided["outcome"], arm["outcome"])
    summary = summarise(primary, decided, len(covering), cfg.primary == "auto", arm)
    sampled = set(_sampled(ctx))
    per_subject = {f"t4_{n}": {s: x for s, x in v.items() if s in sampled} for n, v in scores.items()}
    threshold = next((o["threshold"] for o in decided["tpr_at_fpr"] if o["status"] == "ok"), None)
    metrics = {
        "by_score": by_score,
        "primary_score": primary,
        "decision": decided,
        "repeated_records": arm,
        "population": {
            "rule": cfg.population,
            "members": len(ctx.scored_members),
            "non_members": len(ctx.scored_non_members),
        },
        "n_member": len(ctx.scored_members),
        "n_non_member": len(ctx.scored_non_members),
        "delta": cfg.delta,
        "statistic": "one score decides (t4.primary); auto takes the largest AUROC and gives it an interval "
        "simultaneous over every score (max-type bootstrap; null: members and non-members exchangeable for "
        "every score). Operating points need 10/FPR non-members; the ε bound's threshold is chosen on one "
        "half "
        "and certified on the other (Clopper-Pearson): a heuristic lower bound for this training run and "
        "split, not a DP audit. The repeated-record arm: the members whose record the data repeats against "
        "every non-member at each operating point (exact hypergeometric p-value, Holm across the scores "
        "and points judged), failing at T4's share of the gate's alpha",
    }
    if arm["status"] == "insufficient":  # the most exposed records, not judged: the audit is incomplete
        metrics["untested"] = [
            f"T4 repeated-record arm not tested: {arm['n_records']} records, {arm['reason']}"
        ]
    handoff = OperatingPoint(primary, per_subject[f"t4_{primary}"], threshold)
    return TestResult(NAME, TITLE, status, summary, metrics, per_subject, handoff=handoff)


class MembershipAudit(Audit):
    name, title, method = NAME, TITLE, METHOD
    config_section = T4
    fails_on_a_p_value = True
    version = "2"  # 2: every record scored, the repeated-record arm and low-FPR operating points decide too
    needs = frozenset({SCORE})

    def coverage(self, ctx: AuditContext) -> Coverage:
        n = len(ctx.scored_non_members)
        points = [f"{f:g}" for f in ctx.config.t4.fprs if n >= MIN_NEGATIVES_PER_FPR / f]
        return Coverage(
            True,
            "",
            {
                "members": len(ctx.scored_members),
                "non_members": n,
                "operating_points_estimable": points,
                "repeated_member_records": len(ctx.cohort.repeated),
            },
        )

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        return requests(ctx)

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        return run(ctx, responses)

    def rests_on(self, result: TestResult, status: str) -> list[str]:
        if "decision" not in result.metrics:
            return super().rests_on(result, status)
        return report_fragment.rests_on(NAME, result.metrics, status)

    def report_figures(self, report: Mapping[str, Any]) -> dict[str, Any]:
        return report_fragment.figures(report, NAME)

    def headline(self, report: Mapping[str, Any]) -> list[Headline]:
        return report_fragment.headline(report, NAME)

    def card_lines(self, report: Mapping[str, Any], status: str) -> list[str]:
        if "decision" not in report["tests"][NAME]["metrics"]:
            return super().card_lines(report, status)
        return report_fragment.card_lines(report, NAME, status)

    def card_paragraphs(self, report: Mapping[str, Any]) -> list[tuple[str, str]]:
        return report_fragment.card_paragraphs(report, NAME)
