"""icetrack's library: glacier surface velocity by feature tracking on pairs of satellite images.

The steps, each usable on its own::

    scene = read_scene("LC08_..._B4.tif")                  # a georeferenced image (tracking.scenes)
    pair = Pair.from_scenes(reference, secondary)          # both on one grid, dt > 0
    field = track(pair, chip_size=32, search_range=20)     # vx, vy, v (m/yr), dx, dy, peak, snr, valid, ...
    write_netcdf(field, "velocity.nc")                     # or write_geotiff

and, on plain arrays, ``track_arrays(reference, secondary, **parameters)`` for pixel offsets.
"""

from tracking.exceptions import (
    CancelledError,
    InvalidPairError,
    NoOverlapError,
    ParameterError,
    SceneReadError,
    TrackingError,
)
from tracking.io import read_field, write_geotiff, write_netcdf
from tracking.params import TrackingParameters
from tracking.pipeline import track, track_arrays
from tracking.scenes import Pair, make_scene, read_scene
from tracking.schema import software_version

__version__ = software_version()

__all__ = [
    "CancelledError",
    "InvalidPairError",
    "NoOverlapError",
    "Pair",
    "ParameterError",
    "SceneReadError",
    "TrackingError",
    "TrackingParameters",
    "__version__",
    "make_scene",
    "read_field",
    "read_scene",
    "track",
    "track_arrays",
    "write_geotiff",
    "write_netcdf",
]
