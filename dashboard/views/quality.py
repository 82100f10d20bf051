"""The quality panel: how far to trust the result on the speed map (error estimates and GLAFT metrics)."""

from __future__ import annotations

import math
from typing import Any

import panel as pn
import param

from dashboard.views.base import StateView

#: (attr, label, unit, help) rows of the panel, in order; rows whose attr is absent are left out.
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("v_error", "speed error estimate", "m/yr", "spread of the velocity on stable ground (1.4826 MAD, 2-D)"),
    ("stable_shift_x", "stable-ground offset x", "m/yr", "median vx on stable ground"),
    ("stable_shift_y", "stable-ground offset y", "m/yr", "median vy on stable ground"),
    ("stable_spread_x", "spread x", "m/yr", "1.4826 MAD of vx on stable ground"),
    ("stable_spread_y", "spread y", "m/yr", "1.4826 MAD of vy on stable ground"),
    (
        "metric_static_terrain_x",
        "GLAFT δu (static terrain)",
        "m/yr",
        "KDE core half-width of vx on stable ground",
    ),
    ("metric_static_terrain_y", "GLAFT δv (static terrain)", "m/yr", "the same for vy"),
    (
        "metric_alongflow_normal",
        "GLAFT δx'x' (along-flow strain)",
        "",
        "variability of the strain rate on ice",
    ),
    (
        "metric_alongflow_shear",
        "GLAFT δx'y' (shear strain)",
        "",
        "variability of the shear strain rate on ice",
    ),
    ("metric_outlier_percent", "incorrect matches", "%", "stable-ground vectors outside the KDE core"),
    ("metric_invalid_percent", "invalid", "%", "nodes with no velocity"),
)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "–"
    return f"{number:,.4g}" if abs(number) < 0.1 else f"{number:,.1f}"


def quality_table(attrs: dict[str, Any]) -> str:
    """The panel's Markdown: one row per quality attr present in a field's ``attrs``.

    Examples
    --------
    >>> print(quality_table({"v_error": 12.345, "stable_source": "slowest 25%", "stable_count": 40}))
    | measure | value | what it is |
    |---|---|---|
    | speed error estimate | 12.3 m/yr | spread of the velocity on stable ground (1.4826 MAD, 2-D) |
    <BLANKLINE>
    Stable ground: slowest 25% (40 vectors).
    """
    rows = [
        f"| {label} | {_number(attrs[key])} {unit}".rstrip() + f" | {help_} |"
        for key, label, unit, help_ in ROWS
        if key in attrs
    ]
    if not rows:
        return "No error estimate for this result."
    lines = ["| measure | value | what it is |", "|---|---|---|", *rows]
    if "stable_source" in attrs:
        count = attrs.get("stable_count")
        lines += ["", f"Stable ground: {attrs['stable_source']}" + (f" ({count} vectors)." if count else ".")]
        if "stable_shift_status" in attrs:
            lines[-1] += f" Offset {attrs['stable_shift_status']}."
    return "\n".join(lines)


class QualityView(StateView):
    """A table of the current result's error estimates and quality metrics."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.table = pn.pane.Markdown(
            self._text, name="quality", sizing_mode="stretch_width", styles={"font-size": "0.9em"}
        )

    @param.depends("state.current", "state.results")
    def _text(self) -> str:
        field = self.state.current_field()
        if field is None:
            return ""
        return "**How far to trust this map**\n\n" + quality_table(dict(field.attrs))

    def __panel__(self) -> pn.viewable.Viewable:
        return self.table
