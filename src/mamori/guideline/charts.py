"""Charts drawn by hand as SVG (for HTML): achievement per level and a label radar chart.

Both functions return complete ``<svg>`` markup with every text escaped, so the HTML report
can embed them without trusting any input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

ACHIEVED = "#2f7d4f"
PARTIAL = "#e0a526"
GRID = "#c8ccd2"
TEXT = "#222"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def level_bars_svg(
    bars: Sequence[tuple[str, float | None, float | None]], *, width: int = 420, height: int = 220
) -> str:
    """Vertical bars per level: (name, achieved rate, partial rate) — partial stacked, lighter."""
    left, bottom, top = 40, 30, 20
    plot_h = height - bottom - top
    n = max(len(bars), 1)
    slot = (width - left - 10) / n
    bar_w = min(60.0, slot * 0.6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="level achievement">'
    ]
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="{GRID}" '
            'stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="{TEXT}">{tick}%</text>'
        )
    for i, (name, rate, partial) in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        achieved_h = plot_h * (rate or 0)
        partial_h = plot_h * (partial or 0)
        y = top + plot_h - achieved_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{achieved_h:.1f}" '
            f'fill="{ACHIEVED}"><title>{escape(name)} {_pct(rate)}</title></rect>'
        )
        if partial_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - partial_h:.1f}" width="{bar_w:.1f}" '
                f'height="{partial_h:.1f}" fill="{PARTIAL}" opacity="0.7"/>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y - partial_h - 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT}">{_pct(rate)}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def radar_svg(axes: Sequence[tuple[str, float | None]], *, size: int = 520) -> str:
    """A radar (spider) chart of rates per label; ``None`` rates are drawn as 0 and marked."""
    cx = cy = size / 2
    radius = size / 2 - 90
    n = max(len(axes), 3)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img" aria-label="label radar">'
    ]

    def point(i: int, r: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    for ring in (0.25, 0.5, 0.75, 1.0):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, radius * ring) for i in range(n)))
        parts.append(f'<polygon points="{pts}" fill="none" stroke="{GRID}" stroke-width="0.6"/>')
    for i, (name, rate) in enumerate(axes):
        x, y = point(i, radius)
        parts.append(
            f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            'stroke-width="0.6"/>'
        )
        lx, ly = point(i, radius + 16)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        label = f"{name} {_pct(rate)}"
        parts.append(
            f'<text x="{lx:.1f}" y="{ly + 4:.1f}" font-size="10" text-anchor="{anchor}" '
            f'fill="{TEXT}">{escape(label)}</text>'
        )
    pts = " ".join(
        f"{x:.1f},{y:.1f}"
        for x, y in (point(i, radius * (r or 0)) for i, (_, r) in enumerate(axes))
    )
    if axes:
        parts.append(
            f'<polygon points="{pts}" fill="{ACHIEVED}" fill-opacity="0.35" stroke="{ACHIEVED}" '
            'stroke-width="1.5"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["level_bars_svg", "radar_svg"]
