"""T5's verdicts re-judged under the pre-registered thin-null rule, from audits already written.

    python benchmarks/t5_null_rule.py RUN_DIR [RUN_DIR ...] [--min-fitted-null 50] [--json OUT]

Each RUN_DIR is a `memaudit validate` run (`run_<i>/` holding `audit/report.json` and
`audit/placebo/report.json`). For each audit the script reads T5's judged cases and its null's
figures from report.json and decides them twice:

- `current`: the p-value T5 used (the fitted Student t tail where its leave-one-out check held,
  else the empirical ranks). The script checks that it reproduces report.json's verdicts.
- `thin_null_ranks`: the rule pre-registered in docs/validation.md: the fitted tail only when the
  null holds at least `--min-fitted-null` cases (and its check holds), else the empirical ranks.

Under the null of exchangeable case and null contrasts the empirical rank p-value is valid at
any null size; the fitted tail is valid only as far as the fit is, and a thin null checks its
own fit poorly. The primary figure is the number of placebo audits with a T5 `memorized` call
(a false FAIL: both arms unseen by both models); the cost is the `memorized` calls each rule
makes in the audits themselves.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from memaudit.audits.t5.decision import verdicts


def rejudge(report: dict, *, min_fitted_null: int) -> dict | None:
    """T5's verdict counts under both rules for one report.json, or None when T5 judged no case
    against a null (no reference model, too few null cases, or no case)."""
    test = report["tests"].get("T5", {})
    m = test.get("metrics", {})
    if m.get("mode") != "counterfactual" or "null_tail" not in m:
        return None
    judged = [c for c in m["cases"] if c.get("p_value") is not None]
    if not judged:
        return None
    threshold = report["config"]["t2"]["threshold"]
    n_null = int(m["n_null"])
    fitted_holds = m["null_tail"]["p_value_from"] == "student_t"

    def decide(p_values: np.ndarray) -> dict[str, int]:
        out, _, _ = verdicts(
            np.array([c["p_audited"] for c in judged]),
            np.array([c["p_reference"] for c in judged]),
            p_values,
            np.array([c["z"] for c in judged]),
            np.array([m["null_z_quantile"]]),  # the cut: the null's own z at null_quantile
            threshold,
            m["alpha"],
            m["min_effect"],
            null_quantile=m["null_quantile"],
            fail_alpha=m["fail_alpha"],
        )
        return {v: out.count(v) for v in sorted(set(out))}

    used = np.array([c["p_value"] for c in judged])
    empirical = np.array([c["p_value_empirical"] for c in judged])
    fitted = np.array([c["p_value_student_t"] for c in judged])
    rule = fitted if (fitted_holds and n_null >= min_fitted_null) else empirical
    recorded = {}
    for c in judged:
        recorded[c["verdict"]] = recorded.get(c["verdict"], 0) + 1
    current = decide(used)
    return {
        "n_null": n_null,
        "tail_used": m["null_tail"]["p_value_from"],
        "judged": len(judged),
        "current": current,
        "reproduces_report": current == recorded,
        "thin_null_ranks": decide(rule),
        "smallest_empirical_p": 1 / (n_null + 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--min-fitted-null", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        for role, path in (
            ("audit", run / "audit/report.json"),
            ("placebo", run / "audit/placebo/report.json"),
        ):
            if not path.exists():
                continue
            judged = rejudge(json.loads(path.read_text()), min_fitted_null=args.min_fitted_null)
            if judged is not None:
                rows.append({"run": str(run), "role": role, **judged})
    for role in ("placebo", "audit"):
        mine = [r for r in rows if r["role"] == role]
        for rule in ("current", "thin_null_ranks"):
            calls = sum(r[rule].get("memorized", 0) for r in mine)
            audits = sum(r[rule].get("memorized", 0) > 0 for r in mine)
            print(f"{role:8s} {rule:16s} audits {len(mine):3d}  with a call {audits:3d}  calls {calls:3d}")
    mismatched = [r["run"] + "/" + r["role"] for r in rows if not r["reproduces_report"]]
    print(f"verdicts reproduced from report.json: {len(rows) - len(mismatched)} of {len(rows)}")
    if args.json:
        args.json.write_text(json.dumps({"min_fitted_null": args.min_fitted_null, "audits": rows}, indent=2))


if __name__ == "__main__":
    main()
