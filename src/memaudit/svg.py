"""Tiny inline-SVG charts: no plotting library, no network, print-friendly."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

COLORS = {"member": "#c0392b", "non_member": "#2c7fb8"}


def _frame(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg class="figure" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def tier_lines(
    tiers: Sequence[str],
    series: dict[str, list[tuple[float | None, list | None]]],
    y_label: str,
    label: str,
    y_max: float = 1.0,
) -> str:
    """One line per arm across tiers, with CI whiskers."""
    w, h, left, bottom, top = 460, 240, 50, 40, 15
    x = lambda i: left + (i + 0.5) * (w - left - 10) / max(len(tiers), 1)
    y = lambda v: top + (1 - min(max(v, 0), y_max) / y_max) * (h - top - bottom)
    parts = [
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 5}" y2="{h - bottom}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#444"/>',
    ]
    for t in range(5):
        v = y_max * t / 4
        parts.append(f'<text x="{left - 5}" y="{y(v) + 4}" font-size="10" text-anchor="end">{v:.2f}</text>')
    for i, t in enumerate(tiers):
        parts.append(
            f'<text x="{x(i)}" y="{h - bottom + 15}" font-size="10" text-anchor="middle">{escape(t)}</text>'
        )
    parts.append(
        f'<text x="12" y="{top + (h - top - bottom) / 2}" font-size="10" transform="rotate(-90 12 '
        f'{top + (h - top - bottom) / 2})" text-anchor="middle">{escape(y_label)}</text>'
    )
    for k, (arm, points) in enumerate(series.items()):
        color = COLORS.get(arm, "#555")
        xy = [(x(i), y(v)) for i, (v, _) in enumerate(points) if v is not None]
        if xy:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                + " ".join(f"{a:.1f},{b:.1f}" for a, b in xy)
                + '"/>'
            )
        for i, (v, ci) in enumerate(points):
            if v is None:
                continue
            if ci and ci[0] is not None and ci[1] is not None:
                parts.append(
                    f'<line x1="{x(i)}" y1="{y(ci[0])}" x2="{x(i)}" y2="{y(ci[1])}" stroke="{color}"/>'
                )
            parts.append(f'<circle cx="{x(i)}" cy="{y(v)}" r="3.5" fill="{color}"/>')
        parts.append(
            f'<rect x="{w - 120}" y="{top + 14 * k}" width="10" height="10" fill="{color}"/>'
            f'<text x="{w - 105}" y="{top + 9 + 14 * k}" font-size="10">'
            f"{escape(arm.replace('_', '-'))}</text>"
        )
    return _frame(w, h, "".join(parts), label)


def log_roc(
    curves: dict[str, tuple[list[float], list[float]]], marks: list[tuple[float, float]], label: str
) -> str:
    """ROC curves with log-scaled axes (1e-4..1), as membership-inference work reports them."""
    w, h, left, bottom, top = 460, 300, 55, 40, 10
    lo = -4.0
    sx = lambda v: left + (math.log10(max(v, 1e-4)) - lo) / -lo * (w - left - 10)
    sy = lambda v: top + (1 - (math.log10(max(v, 1e-4)) - lo) / -lo) * (h - top - bottom)
    parts = [
        f'<rect x="{left}" y="{top}" width="{w - left - 10}" height="{h - top - bottom}" '
        'fill="none" stroke="#444"/>',
        f'<line x1="{sx(1e-4)}" y1="{sy(1e-4)}" x2="{sx(1)}" y2="{sy(1)}" '
        'stroke="#aaa" stroke-dasharray="4"/>',
    ]
    for e in range(-4, 1):
        parts.append(
            f'<text x="{sx(10**e)}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">1e{e}</text>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{sy(10**e) + 4}" font-size="10" text-anchor="end">1e{e}</text>'
        )
    parts.append(
        f'<text x="{(w + left) / 2}" y="{h - 8}" font-size="10" text-anchor="middle">'
        "false positive rate</text>"
    )
    palette = ["#c0392b", "#2c7fb8", "#27ae60", "#8e44ad", "#e67e22", "#555"]
    for k, (name, (fpr, tpr)) in enumerate(curves.items()):
        pts = " ".join(f"{sx(f):.1f},{sy(t):.1f}" for f, t in zip(fpr, tpr) if f > 0 and t > 0)
        if pts:
            parts.append(
                f'<polyline fill="none" stroke="{palette[k % 6]}" stroke-width="1.8" points="{pts}"/>'
            )
        parts.append(
            f'<text x="{left + 8}" y="{top + 14 + 12 * k}" font-size="10" fill="{palette[k % 6]}">'
            f"{escape(name)}</text>"
        )
    for f, t in marks:
        if t > 0:
            parts.append(
                f'<circle cx="{sx(f)}" cy="{sy(t)}" r="4" fill="none" stroke="#000" stroke-width="1.5"/>'
            )
    return _frame(w, h, "".join(parts), label)


def bars(items: list[tuple[str, float, list | None]], label: str, lo: float = -0.5, hi: float = 0.5) -> str:
    """Horizontal bars around zero with CI whiskers (disparities, profiles)."""
    row, left, w = 18, 200, 460
    h = max(40, row * len(items) + 30)
    sx = lambda v: left + (min(max(v, lo), hi) - lo) / (hi - lo) * (w - left - 10)
    parts = [
        f'<line x1="{sx(0)}" y1="5" x2="{sx(0)}" y2="{h - 20}" stroke="#444"/>',
        f'<text x="{sx(lo)}" y="{h - 5}" font-size="10">{lo:g}</text>',
        f'<text x="{sx(hi)}" y="{h - 5}" font-size="10" text-anchor="end">{hi:g}</text>',
    ]
    for i, (name, v, ci) in enumerate(items):
        yy = 8 + i * row
        a, b = sorted((sx(0), sx(v)))
        parts.append(
            f'<text x="{left - 5}" y="{yy + 10}" font-size="10" text-anchor="end">{escape(name)}</text>'
        )
        parts.append(
            f'<rect x="{a}" y="{yy}" width="{max(b - a, 1)}" height="{row - 6}" '
            f'fill="{"#c0392b" if v > 0 else "#2c7fb8"}"/>'
        )
        if ci and ci[0] is not None and ci[1] is not None:
            parts.append(
                f'<line x1="{sx(ci[0])}" y1="{yy + (row - 6) / 2}" x2="{sx(ci[1])}" '
                f'y2="{yy + (row - 6) / 2}" stroke="#000"/>'
            )
    return _frame(w, h, "".join(parts), label)
