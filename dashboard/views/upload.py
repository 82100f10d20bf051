"""Local files: upload GeoTIFFs (size-limited and validated) and track them like any other pair."""

from __future__ import annotations

import panel as pn
from panel import ui

from dashboard.views.base import StateView, notify
from tracking.exceptions import TrackingError
from tracking.sources.local import MAX_UPLOAD_BYTES, LocalSource, MissingTimeError, read_upload


class UploadView(StateView):
    """Two or more GeoTIFFs in; each is checked (raster, CRS, date) and joins the 'My GeoTIFFs' source."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.files = pn.widgets.FileInput(accept=".tif,.tiff", multiple=True, sizing_mode="stretch_width")
        self.date = ui.DatePicker(label="Date for files without one", value=None, sizing_mode="stretch_width")
        self.add = ui.Button(label="Add files", icon="upload", sizing_mode="stretch_width")
        self.add.on_click(self._add)
        self.files.param.watch(self._add, "value")  # check the files as soon as they arrive
        self.message = pn.pane.Markdown(
            f"GeoTIFFs in a projected CRS (metres), up to {MAX_UPLOAD_BYTES // 2**20} MB each; dates come from "
            "the tags or the file names, or type one.", sizing_mode="stretch_width", name="upload message",
        )

    def _add(self, _event=None) -> None:
        values = self.files.value
        names = self.files.filename
        if not values:
            notify("warning", "Choose one or more GeoTIFF files first.")
            return
        if not isinstance(values, list):
            values, names = [values], [names]
        added, problems = self.add_files(list(zip(names, values, strict=True)))
        if problems:
            self.message.object = "\n".join(f"- {p}" for p in problems)
            for problem in problems:
                notify("error", problem)
        if added:
            notify("success", f"Added {', '.join(added)}. Search to list them, then pick a pair.")

    def add_files(self, files: list[tuple[str, bytes]]) -> tuple[list[str], list[str]]:
        """Validate and add ``(filename, bytes)`` uploads; returns (added scene ids, messages for the user)."""
        added, problems = [], []
        for name, data in files:
            try:
                try:
                    scene = read_upload(data, name)
                except MissingTimeError:
                    if self.date.value is None:
                        raise
                    scene = read_upload(data, name, time=self.date.value)
            except TrackingError as err:
                problems.append(str(err))
                continue
            self.state.uploads[scene.attrs["scene_id"]] = scene
            added.append(scene.attrs["scene_id"])
        if added:
            self.state.source = LocalSource.key
            self.state.search()
        return added, problems

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.files, self.date, self.add, self.message, sizing_mode="stretch_width")
