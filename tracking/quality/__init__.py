"""Quality metrics and error estimates of velocity fields, after autoRIFT and GLAFT.

- `assess`: a VelocityField's stable-ground offset removed, its error estimates and GLAFT metrics in its attrs
  (`track_and_assess`: a pair tracked, then assessed);
- `stable_ground_mask`, `stable_ground_stats`: stable ground (polygons, a mask, or the slowest 25 %), the median
  offset and robust spread of the vectors on it;
- `static_terrain_metric`: GLAFT metric 1 (static-terrain correct-match uncertainty);
- `strain_rate_metric`: GLAFT metric 2 (along-flow strain-rate variability);
- `kde_box`: the kernel-density thresholding both metrics share.
"""

from tracking.quality.assess import QUALITY_ATTRS, assess, track_and_assess
from tracking.quality.kde import (
    MAX_KDE_SAMPLES,
    MIN_SAMPLES,
    kde_box,
    static_terrain_metric,
)
from tracking.quality.stable import (
    MAD_TO_SIGMA,
    SLOW_FRACTION,
    Area,
    area_mask,
    measured_vectors,
    polygon_mask,
    read_polygons,
    stable_ground_mask,
    stable_ground_stats,
)
from tracking.quality.strain import SOBEL_GAIN, strain_rate_metric, strain_rates

__all__ = [
    "MAD_TO_SIGMA",
    "MAX_KDE_SAMPLES",
    "MIN_SAMPLES",
    "QUALITY_ATTRS",
    "SLOW_FRACTION",
    "SOBEL_GAIN",
    "Area",
    "area_mask",
    "assess",
    "kde_box",
    "measured_vectors",
    "polygon_mask",
    "read_polygons",
    "stable_ground_mask",
    "stable_ground_stats",
    "static_terrain_metric",
    "strain_rate_metric",
    "strain_rates",
    "track_and_assess",
]
