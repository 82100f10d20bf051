"""Step 6, export: the current result as GeoTIFF and NetCDF, the series as CSV, the figure as PNG."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import panel as pn
from panel import ui

from dashboard import plots
from dashboard.derived import file_stem, point_series
from dashboard.views.base import StateView, notify
from tracking.io import write_geotiff, write_netcdf
from tracking.timeseries import write_csv


def _file_bytes(write, suffix: str) -> io.BytesIO:
    """Run a writer into a temporary folder and return the file's bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        write(path)
        return io.BytesIO(path.read_bytes())


class ExportView(StateView):
    """Download buttons; file names carry the place and the two dates."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        common = {"sizing_mode": "stretch_width", "variant": "outlined"}
        self.geotiff = ui.FileDownload(
            callback=self._geotiff, label="Velocity (GeoTIFF: vx, vy, v)", filename="velocity.tif", **common
        )
        self.netcdf = ui.FileDownload(
            callback=self._netcdf, label="Velocity field (NetCDF)", filename="velocity.nc", **common
        )
        self.csv = ui.FileDownload(
            callback=self._csv, label="Time series (CSV)", filename="speed_series.csv", **common
        )
        self.png = ui.FileDownload(callback=self._png, label="Figure (PNG)", filename="speed.png", **common)
        self.state.param.watch(self._names, ["current", "results"])
        self._names()

    def _names(self, *_events) -> None:
        field = self.state.current_field()
        disabled = field is None
        for button in (self.geotiff, self.netcdf, self.png):
            button.disabled = disabled
        if field is None:
            return
        stem = file_stem(self.state, field)
        self.geotiff.filename = f"{stem}_speed.tif"
        self.netcdf.filename = f"{stem}_velocity.nc"
        self.png.filename = f"{stem}_speed.png"
        self.csv.filename = f"{stem.split('_')[0]}_speed_series.csv"

    def _field(self):
        field = self.state.current_field()
        if field is None:
            notify("warning", "Nothing to export yet: run a pair first.")
        return field

    def _geotiff(self) -> io.BytesIO | None:
        field = self._field()
        return None if field is None else _file_bytes(lambda p: write_geotiff(field, p), ".tif")

    def _netcdf(self) -> io.BytesIO | None:
        field = self._field()
        return None if field is None else _file_bytes(lambda p: write_netcdf(field, p), ".nc")

    def _csv(self) -> io.BytesIO:
        series = point_series(self.state)
        return _file_bytes(lambda p: write_csv(series, p), ".csv")

    def _png(self) -> io.BytesIO | None:
        field = self._field()
        if field is None:
            return None
        s = self.state
        return io.BytesIO(
            plots.figure_png(field, layer=s.layer, log=s.log_scale, clim=s.clim, cmap=s.cmap, place=s.place())
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.geotiff, self.netcdf, self.csv, self.png, sizing_mode="stretch_width")
