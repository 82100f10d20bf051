"""The embedded synthetic demo glacier: a Landsat-like scene series of Jakobshavn Isbræ with known motion.

This is icetrack's default data when there is no network. It is deterministic from a seed, generated in a
few seconds per scene and cached on disk, and its true motion is exposed exactly so that a tracker's
accuracy can be measured everywhere.

Model
-----
Geometry (fixed, seed-independent) on the real location, UTM zone 22N (EPSG:32622): a fast trunk flowing
west through a rock-walled fjord to a calving front near x = 546 km, a north and a south branch joining it,
two small outlet glaciers on the fjord walls, the ice sheet east of a margin near x = 575 km with nunataks,
and featureless snowfields. West of the (seasonally moving) front the fjord holds dark ice mélange whose
texture changes between dates.

Motion is ``v(x, t) = v0(x) * s(t)``: a steady spatial field ``v0`` (m/day, up to ~35 m/day at the front)
times the scalar `speed_history` ``s(t)`` (fast 2015-2016, slow-down 2017-2018, faster again by 2021, with a
~15 % summer speed-up). With the flow time ``tau(t) = ∫ s dt`` (days) every particle follows the steady
streamlines of ``v0``, so the true displacement between ``t0`` and ``t1`` of a feature at ``x0`` is the
(adaptive RK4) integration of ``v0`` from ``x0`` over the flow time ``tau(t1) - tau(t0)``; see
`true_displacement`.

Texture lives in "epochs" every `EPOCH_DAYS` days: epoch ``k`` has its own independent texture (band-limited
gradient noise plus crevasse stripes across flow), defined in the material coordinates of its epoch time
``t_k``. The image at ``t`` samples each epoch's texture at ``Φ(x, -(tau(t) - tau(t_k)))`` (backward
integration along ``v0``, computed on a 60 m grid and interpolated) and cross-fades the two epochs around
``t`` with triangular weights. Short pairs correlate well, long pairs decorrelate, shear never accumulates
for more than one epoch, and the features move exactly as `true_displacement` says (to ~1 m). Rock is
static with its own texture; every date gets a little sensor noise, a gain, and maybe clouds.

Modules
-------
``flow``
    The constants, the speed history and flow time, and the static glacier model with its steady field ``v0``.
``kernels``
    Numba kernels: hashing, gradient noise, interpolation, advection and rendering.
``catalogue``
    The acquisitions (dates, footprints, cloud cover) as a scene table: `catalog`.
``render``
    Scenes rendered, cached on disk and cropped (`load_scene`), `demo_pair` and `write_geotiffs`.
``truth``
    The exact motion (`true_displacement`, `true_velocity`, `true_velocity_field`) and `surface_type`.
"""

from __future__ import annotations

from tracking.sources.demo.catalogue import catalog
from tracking.sources.demo.flow import (
    BANDS,
    DEMO_BOUNDS,
    DEMO_CRS,
    EPOCH_DAYS,
    GENERATOR_VERSION,
    speed_history,
)
from tracking.sources.demo.render import demo_pair, load_scene, write_geotiffs
from tracking.sources.demo.truth import surface_type, true_displacement, true_velocity, true_velocity_field

__all__ = [
    "BANDS",
    "DEMO_BOUNDS",
    "DEMO_CRS",
    "EPOCH_DAYS",
    "GENERATOR_VERSION",
    "catalog",
    "demo_pair",
    "load_scene",
    "speed_history",
    "surface_type",
    "true_displacement",
    "true_velocity",
    "true_velocity_field",
    "write_geotiffs",
]
