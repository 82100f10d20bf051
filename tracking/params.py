"""``TrackingParameters``: the one source of bounds, defaults and docs for the tracker.

The library, the ``icetrack`` command line and the dashboard's sliders are all generated from this class, so a
bound or a default is changed here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import param

from tracking.exceptions import ParameterError

__all__ = [
    "BUILTIN_KERNELS",
    "PREFILTER_NAMES",
    "PREFILTER_SIZES",
    "SUBPIXEL_METHODS",
    "TrackingParameters",
    "value_text",
]

#: The kernels shipped with icetrack (`tracking.kernels`); `tracking.kernels.register_kernel` adds others.
BUILTIN_KERNELS = ("ncc", "oc")

PREFILTER_NAMES = ("none", "gaussian_highpass", "wallis", "naof")
#: The size each pre-filter starts from when it is chosen (Gaussian sigma, Wallis window, NAOF smoothing), px.
PREFILTER_SIZES = {"none": 0.0, "gaussian_highpass": 3.0, "wallis": 5.0, "naof": 0.0}
SUBPIXEL_METHODS = ("lucas-kanade", "oversampled", "parabolic")
#: Texts read as None by parameters that allow it (case-insensitive).
_NONE_WORDS = ("none", "off")
_YES_WORDS = ("true", "yes", "on", "1")
_NO_WORDS = ("false", "no", "off", "0")


def value_text(value: Any) -> str:
    """A parameter value as text: None -> ``"none"``, booleans -> ``"true"``/``"false"``, numbers as ``str``.

    `TrackingParameters.parse_text` reads every such text back.

    Examples
    --------
    >>> value_text(None), value_text(False), value_text(24), value_text(0.5)
    ('none', 'false', '24', '0.5')
    """
    if value is None:
        return "none"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    return str(value)


class TrackingParameters(param.Parameterized):
    """Parameters of one feature-tracking run.

    Lengths are in pixels of the reference image. Each parameter's ``doc`` is the one-line help shown in the
    dashboard and the CLI; ``precedence`` groups them (kernel < 1 <= pre-filter < 2 <= outliers < 3 <= holes).
    """

    # --- kernel -----------------------------------------------------------------------------------------------
    kernel = param.Selector(
        default="ncc",
        objects=list(BUILTIN_KERNELS),
        doc="Matching kernel: ncc (normalized cross-correlation, coarse-to-fine, fastest), oc (orientation "
        "correlation, Haug et al. 2010: FFT correlation of gradient directions, robust to illumination and "
        "contrast changes), or one added with tracking.kernels.register_kernel.",
        precedence=0.05,
    )
    chip_size = param.Integer(
        32,
        bounds=(8, 256),
        softbounds=(8, 128),
        step=8,
        doc="Reference window (chip) size, px: larger is more robust, smaller resolves finer detail.",
        precedence=0.1,
    )
    search_range = param.Integer(
        20,
        bounds=(1, 256),
        softbounds=(2, 128),
        doc="Largest displacement looked for, each way, px: must exceed the fastest ice's motion over dt.",
        precedence=0.2,
    )
    step = param.Integer(
        16,
        bounds=(1, 256),
        softbounds=(4, 128),
        step=4,
        doc="Grid spacing between chip centres, px: sets the output resolution and the chip count.",
        precedence=0.3,
    )
    subpixel = param.Selector(
        default="lucas-kanade",
        objects=list(SUBPIXEL_METHODS),
        doc="Sub-pixel refinement: lucas-kanade (image-gradient fit, most accurate), oversampled "
        "(correlation surface interpolated by the oversampling factor), parabolic (3-point fit; Gaussian "
        "for oc). Chip kernels registered by users refine their own matches.",
        precedence=0.4,
    )
    oversampling = param.Integer(
        16,
        bounds=(1, 128),
        softbounds=(1, 64),
        doc="Sub-pixel resolution of the 'oversampled' peak search: 1/oversampling px.",
        precedence=0.5,
    )
    # --- pre-filter ---------------------------------------------------------------------------------------------
    prefilter = param.Selector(
        default="gaussian_highpass",
        objects=list(PREFILTER_NAMES),
        doc="Image pre-filter applied to both scenes before matching (the Gaussian high-pass kept the most "
        "correct vectors on every real fixture and costs the least: benchmarks/RESULTS.md).",
        precedence=1.0,
    )
    prefilter_size = param.Number(
        3.0,
        bounds=(0.0, 50.0),
        softbounds=(0.0, 15.0),
        step=0.5,
        doc="Pre-filter size, px: Gaussian sigma of the high-pass, window width of Wallis, Gaussian smoothing "
        "before NAOF (0: none). Choosing a pre-filter resets it to that filter's default.",
        precedence=1.1,
    )
    # --- outliers -----------------------------------------------------------------------------------------------
    min_peak = param.Number(
        0.2,
        bounds=(0.0, 1.0),
        step=0.05,
        doc="Reject vectors whose peak normalized cross-correlation is below this, at a 32 px chip (scaled by "
        "32 / chip size for other chips, as the correlation of unrelated images is).",
        precedence=2.0,
    )
    min_snr = param.Number(
        1.0,
        bounds=(1.0, 10.0),
        softbounds=(1.0, 3.0),
        step=0.05,
        doc="Reject vectors whose correlation peak is not this many times the next highest peak of the coarse "
        "search (1: no test, the default: on real images it rejected about as many right vectors as wrong).",
        precedence=2.1,
    )
    median_threshold = param.Number(
        3.0,
        bounds=(0.5, 20.0),
        softbounds=(1.0, 10.0),
        step=0.5,
        doc="Normalized median test (Westerweel & Scarano 2005): reject vectors this many times the "
        "neighbourhood's median residual away from its median.",
        precedence=2.2,
    )
    median_epsilon = param.Number(
        0.2,
        bounds=(0.0, 2.0),
        step=0.05,
        doc="Noise floor of the normalized median test, px.",
        precedence=2.3,
    )
    median_radius = param.Integer(
        1,
        bounds=(1, 5),
        doc="Neighbourhood of the normalized median test, grid nodes each way (1 = 3x3).",
        precedence=2.4,
    )
    max_speed = param.Number(
        None,
        allow_None=True,
        bounds=(0.0, 100_000.0),
        doc="Reject vectors faster than this, m/yr (None: no limit). Applied to georeferenced pairs only.",
        precedence=2.5,
    )
    # --- holes --------------------------------------------------------------------------------------------------
    fill_holes = param.Boolean(
        True,
        doc="Interpolate rejected vectors from their valid neighbours (recorded in 'interpolated').",
        precedence=3.0,
    )
    fill_distance = param.Integer(
        2,
        bounds=(1, 20),
        doc="Fill holes no further than this many grid nodes from valid data.",
        precedence=3.1,
    )

    @param.depends("prefilter", watch=True)
    def _reset_prefilter_size(self) -> None:
        self.prefilter_size = PREFILTER_SIZES[self.prefilter]

    def check(self, shape: tuple[int, int] | None = None) -> TrackingParameters:
        """Raise `ParameterError` if a value or a combination of values cannot work.

        Parameters
        ----------
        shape : tuple of int, optional
            ``(rows, cols)`` of the images to track. With it, the chip and the search range are checked
            against the image size.

        Returns
        -------
        TrackingParameters
            ``self``, so that calls can be chained.
        """
        if shape is None:
            return self
        rows, cols = (int(n) for n in shape)
        smallest = min(rows, cols)
        if self.chip_size > smallest:
            raise ParameterError(
                f"chip_size={self.chip_size} px is larger than the image ({rows} x {cols} px): "
                f"choose a chip_size between 8 and {smallest}."
            )
        if self.chip_size + 2 * self.search_range > smallest:
            largest = (smallest - self.chip_size) // 2
            hint = f"choose a search_range between 1 and {largest}" if largest >= 1 else "use a larger image"
            raise ParameterError(
                f"search_range={self.search_range} px leaves no chip whose search area fits in the "
                f"{rows} x {cols} px image with chip_size={self.chip_size}: {hint}, or a smaller chip_size."
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The parameter values as a plain ``dict`` (name -> value), without ``name``."""
        return {k: v for k, v in self.param.values().items() if k != "name"}

    def to_text(self, *, changed_only: bool = False) -> dict[str, str]:
        """The parameter values as text (`value_text`), name -> text; `from_text` reads them back.

        Parameters
        ----------
        changed_only : bool
            Only the values that differ from the defaults.

        Examples
        --------
        >>> TrackingParameters(step=24, max_speed=None).to_text(changed_only=True)
        {'step': '24'}
        """
        defaults = {k: p.default for k, p in self.param.objects("existing").items()}
        return {k: value_text(v) for k, v in self.to_dict().items() if not changed_only or v != defaults[k]}

    @classmethod
    def parse_text(cls, name: str, text: str) -> Any:
        """The value of parameter ``name`` written as ``text`` (by `value_text`, on a command line or in a URL).

        ``"none"`` and ``"off"`` are None where the parameter allows it; booleans read true/false, yes/no,
        on/off, 1/0; numbers as Python reads them. Bounds are checked later, by the parameter set.

        Raises
        ------
        ParameterError
            An unknown parameter, or a text that is not of the parameter's type.

        Examples
        --------
        >>> TrackingParameters.parse_text("max_speed", "off"), TrackingParameters.parse_text("fill_holes", "No")
        (None, False)
        """
        if name not in cls.param or name == "name":
            known = ", ".join(sorted(k for k in cls.param if k != "name"))
            raise ParameterError(f"unknown tracking parameter {name!r}: known parameters are {known}.")
        p = cls.param[name]
        word = text.strip().lower()
        if p.allow_None and word in _NONE_WORDS:
            return None
        if isinstance(p, param.Boolean):
            if word in _YES_WORDS or word in _NO_WORDS:
                return word in _YES_WORDS
            raise ParameterError(f"{name}: not true or false: {text!r}")
        if isinstance(p, param.Integer):
            try:
                return int(text)
            except ValueError:
                raise ParameterError(f"{name}: not an integer: {text!r}") from None
        if isinstance(p, param.Number):
            try:
                return float(text)
            except ValueError:
                raise ParameterError(f"{name}: not a number: {text!r}") from None
        return text

    @classmethod
    def from_text(
        cls, texts: Mapping[str, str], params: TrackingParameters | None = None
    ) -> TrackingParameters:
        """A new parameter set: `from_overrides` with values given as text (`parse_text`).

        Examples
        --------
        >>> TrackingParameters.from_text({"step": "24", "max_speed": "none"}).step
        24
        """
        return cls.from_overrides(
            params, **{name: cls.parse_text(name, text) for name, text in texts.items()}
        )

    @classmethod
    def from_overrides(cls, params: TrackingParameters | None = None, **overrides: Any) -> TrackingParameters:
        """A new parameter set: a copy of ``params`` (or the defaults) with ``overrides`` applied.

        Unknown names and out-of-bounds values raise `ParameterError` naming the parameter and its range.
        """
        values = params.to_dict() if params is not None else {}
        for key, value in overrides.items():
            if key not in cls.param or key == "name":
                known = ", ".join(sorted(k for k in cls.param if k != "name"))
                raise ParameterError(f"unknown tracking parameter {key!r}: known parameters are {known}.")
            values[key] = value
        if "prefilter" in overrides and "prefilter_size" not in overrides:
            values["prefilter_size"] = PREFILTER_SIZES.get(
                overrides["prefilter"], values.get("prefilter_size", 3.0)
            )
        try:
            return cls(**values)
        except ValueError as err:  # param's own bound and type errors
            raise ParameterError(_explain(err)) from None


def _explain(err: ValueError) -> str:
    """Turn one of param's validation messages into one that names the allowed range."""
    text = str(err)
    for name, p in TrackingParameters.param.objects("existing").items():
        if f".{name}'" in text or f"'{name}'" in text:
            if getattr(p, "bounds", None):
                lo, hi = p.bounds
                return f"{name}: {text.rstrip('.')}. Allowed range: {lo} to {hi}."
            if getattr(p, "objects", None):
                return f"{name}: {text.rstrip('.')}. Allowed values: {', '.join(map(str, p.objects))}."
    return text
