"""Feature-tracking kernels. ``ncc`` is icetrack's normalized cross-correlation tracker."""

from tracking.kernels.ncc import chip_grid, track_arrays

__all__ = ["chip_grid", "track_arrays"]
