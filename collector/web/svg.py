"""Small inline SVG charts (no JavaScript, a few hundred bytes each); pure.

Every number is formatted by us and every label goes through :func:`html.escape`, so the
markup can be embedded as-is in an autoescaped page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def sparkline(
    points: Sequence[tuple[float, float | None, bool]],
    *,
    width: int = 300,
    height: int = 48,
    label: str = "",
    empty: str = "",
) -> str:
    """A latency sparkline: ``(ts, value, ok)`` points; failed rounds as red ticks below.

    An empty series draws its frame with ``empty`` ("không có dữ liệu") in the middle, so
    the layout does not jump when data arrives and nobody mistakes it for a flat line.
    """
    pad = 2
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="100%" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="none" stroke="#ccc"/>',
    ]
    if not points and empty:
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" font-size="12" text-anchor="middle" '
            f'fill="#595959">{escape(empty)}</text>'
        )
    if points:
        t0 = min(p[0] for p in points)
        t1 = max(p[0] for p in points)
        span = (t1 - t0) or 1.0
        values = [p[1] for p in points if p[1] is not None]
        vmax = max(values) if values else 1.0
        vmax = vmax or 1.0
        plot_h = height - 2 * pad - 6

        def x(ts: float) -> float:
            return pad + (ts - t0) / span * (width - 2 * pad)

        coords = [
            f"{_f(x(ts))},{_f(pad + plot_h - (v / vmax) * plot_h)}" for ts, v, ok in points if ok and v is not None
        ]
        if coords:
            parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{" ".join(coords)}"/>')
        for ts, _v, ok in points:
            if not ok:
                xs = _f(x(ts))
                parts.append(
                    f'<line x1="{xs}" y1="{height - 5}" x2="{xs}" y2="{height}" stroke="#c62828" stroke-width="2"/>'
                )
        parts.append(
            f'<text x="{width - pad}" y="10" font-size="9" text-anchor="end" fill="#595959">{_f(vmax * 1000)} ms</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hbars(
    rows: Sequence[tuple[str, float]],
    *,
    target: float | None = None,
    width: int = 600,
    bar_h: int = 16,
    label_w: int = 170,
    title: str = "",
) -> str:
    """Horizontal bars of ratios (0..1) with labels, and an optional target line."""
    gap = 4
    height = max(1, len(rows)) * (bar_h + gap) + 20
    plot_w = width - label_w - 50
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, ratio) in enumerate(rows):
        y = i * (bar_h + gap)
        r = min(max(ratio, 0.0), 1.0)
        colour = "#2e7d32" if target is None or r >= target else "#ef6c00"
        parts.append(
            f'<text x="{label_w - 4}" y="{y + bar_h - 4}" font-size="11" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{_f(plot_w * r)}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{_f(label_w + plot_w * r + 3)}" y="{y + bar_h - 4}" font-size="11">{_f(ratio * 100)}%</text>'
        )
    if target is not None:
        tx = _f(label_w + plot_w * target)
        parts.append(
            f'<line x1="{tx}" y1="0" x2="{tx}" y2="{height - 16}" stroke="#c62828" stroke-dasharray="4 2"/>'
            f'<text x="{tx}" y="{height - 4}" font-size="10" text-anchor="middle" fill="#c62828">{_f(target * 100)}%</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line(
    points: Sequence[tuple[float, float]],
    *,
    width: int = 600,
    height: int = 160,
    title: str = "",
    start_label: str = "",
    end_label: str = "",
) -> str:
    """A line of ratios (0..1) over time. The axis starts below the lowest value (in steps of
    5%) rather than at 0, so that a dip of a few communes out of hundreds stays visible."""
    pad_l, pad_b, pad_t = 36, 18, 6
    plot_w, plot_h = width - pad_l - 6, height - pad_b - pad_t
    values = [min(max(v, 0.0), 1.0) for _t, v in points]
    low = min(values, default=0.0)
    floor = max(0.0, math.floor((low - 0.02) * 20) / 20) if values else 0.0
    floor = min(floor, 0.9)
    scale = (1.0 - floor) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{width - 6}" y2="{pad_t}" stroke="#ddd"/>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 6}" y2="{pad_t + plot_h}" stroke="#999"/>',
        f'<text x="{pad_l - 3}" y="{pad_t + 8}" font-size="10" text-anchor="end">100%</text>',
        f'<text x="{pad_l - 3}" y="{pad_t + plot_h}" font-size="10" text-anchor="end">{_f(floor * 100)}%</text>',
        f'<text x="{pad_l}" y="{height - 4}" font-size="10">{escape(start_label)}</text>',
        f'<text x="{width - 6}" y="{height - 4}" font-size="10" text-anchor="end">{escape(end_label)}</text>',
    ]
    if points:
        t0, t1 = points[0][0], points[-1][0]
        span = (t1 - t0) or 1.0
        coords = " ".join(
            f"{_f(pad_l + (t - t0) / span * plot_w)},{_f(pad_t + plot_h - (v - floor) / scale * plot_h)}"
            for (t, _raw), v in zip(points, values, strict=True)
        )
        parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{coords}"/>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    buckets: Sequence[tuple[str, int]],
    *,
    width: int = 600,
    height: int = 160,
    title: str = "",
) -> str:
    """Vertical bars of counts with labels underneath (the availability distribution)."""
    pad_b, pad_t = 30, 14
    n = max(1, len(buckets))
    slot = width / n
    top = max((c for _l, c in buckets), default=0) or 1
    plot_h = height - pad_b - pad_t
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, count) in enumerate(buckets):
        h = plot_h * count / top
        x = i * slot + slot * 0.15
        parts.append(
            f'<rect x="{_f(x)}" y="{_f(pad_t + plot_h - h)}" width="{_f(slot * 0.7)}" height="{_f(h)}" fill="#1565c0"/>'
            f'<text x="{_f(x + slot * 0.35)}" y="{_f(pad_t + plot_h - h - 2)}" font-size="10" text-anchor="middle">{count}</text>'
            f'<text x="{_f(x + slot * 0.35)}" y="{height - 12}" font-size="10" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
