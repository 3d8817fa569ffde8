"""report.json against the shipped schema, and report.html in a real headless browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from memaudit.config import load_config
from memaudit.pipeline import ModelSource, audit, rerender
from memaudit.report.schema import report_schema

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report_run")
    overrides = {
        "subjects_per_arm": 60,
        "tiers": ["none", "static", "codes:10"],
        "generation": {"n_samples": 4, "max_new_codes": 24},
        "statistics": {"n_bootstrap": 100},
        "t5": {"max_cases": 4, "n_samples": 6, "n_samples_original": 12, "n_null": 8},
    }
    audit(
        cohort_dir,
        ModelSource(model=model_dir),
        out,
        load_config(overrides=overrides),
        progress=False,
        echo=False,
    )
    return out


def test_report_json_validates_against_the_shipped_schema(run_dir: Path) -> None:
    report = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(report, report_schema())
    assert {"by_tier"} <= set(report["tests"]["T1"]["metrics"]) and "by_score" in report["tests"]["T4"][
        "metrics"
    ]
    broken = dict(report, risk={"level": "catastrophic", "reasons": []})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, report_schema())


def test_the_report_says_what_its_level_rests_on_and_how_stable_it_is(run_dir: Path) -> None:
    report = json.loads((run_dir / "report.json").read_text())
    risk = report["risk"]
    deciding = {"high": "fail", "medium": "warn"}.get(risk["level"])
    named = {line.split(" ")[0] for line in risk["rests_on"]} - {"vocabulary"}
    assert named == {n for n, t in report["tests"].items() if t["status"] == deciding}
    assert risk["stability"]["recomputed"] == risk["stability"]["resamples"] > 0
    assert sum(risk["stability"]["levels"].values()) == pytest.approx(1.0)
    html = (run_dir / "report.html").read_text()
    assert "How stable:" in html and f"in {risk['stability']['recomputed']} audits of a random half" in html
    if risk["rests_on"]:
        assert "The level rests on" in html
    # the gate's alpha is spent over the tests that ran and fail on a p-value, no more
    assert sum(risk["gate"]["by_test"].values()) == pytest.approx(risk["gate"]["alpha"])
    assert set(risk["gate"]["by_test"]) == {"T1", "T2", "T3", "T4", "T5"}
    assert "The gate fails at most 5% of audits" in html


def test_report_html_is_rendered_from_json_alone(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    rerender(run_dir)
    assert (run_dir / "report.html").read_text() == html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is installed by .ci/run; run `apt-get install chromium`"
)
def test_report_opens_in_a_headless_browser_with_every_figure(run_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((run_dir / "report.html").as_uri())
        labels = page.eval_on_selector_all(
            "svg.figure",
            "els => els.map(e => [e.getAttribute('aria-label'), e.getBoundingClientRect().width, "
            "e.getBoundingClientRect().height])",
        )
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        page.screenshot(path=str(run_dir / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    names = {label for label, _, _ in labels}
    assert {"T1 recovery by tier", "T2 AUROC by tier", "T4 log-scale ROC", "T6 disparity chart"} <= names
    assert all(w > 0 and h > 0 for _, w, h in labels)
    for h in (
        "Executive summary",
        "Trajectory memorization (T1)",
        "Sensitive attribute leakage (T2)",
        "Embedding probe (T3)",
        "Membership inference (T4)",
        "Methods",
        "Flagged cases",
    ):
        assert h in headings
    assert (run_dir / "report.png").stat().st_size > 10_000
