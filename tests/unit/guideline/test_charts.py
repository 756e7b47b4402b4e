from __future__ import annotations

from mamori.guideline.charts import level_bars_svg, radar_svg


def test_charts_escape_and_shape():
    svg = level_bars_svg([("<Lv1>", 0.5, 0.1), ("Lv2", None, None)])
    assert "&lt;Lv1&gt;" in svg and "50%" in svg and "—" in svg
    radar = radar_svg([(f"{i} ラベル&", i / 24) for i in range(24)])
    assert radar.count("<line") == 24 and "ラベル&amp;" in radar


def test_radar_with_missing_rates_and_few_axes():
    svg = radar_svg([("a", None), ("b", 1.0)])
    assert svg.startswith("<svg") and "—" in svg and svg.endswith("</svg>")
    assert radar_svg([]).endswith("</svg>")
