"""Local files: upload GeoTIFFs (size-limited and validated), see and edit their dates, track them like any pair."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import DateEditor, DateFormatter
from panel import ui

from dashboard import uploads
from dashboard.views.base import StateView, notify
from dashboard.views.file_input import LimitedFileInput
from tracking.exceptions import TrackingError
from tracking.sources.local import MAX_UPLOAD_BYTES

#: Files taken in one upload (two scenes and their sidecars, a few pairs).
MAX_UPLOAD_FILES = 8


class UploadView(StateView):
    """GeoTIFFs (and their metadata sidecars) in; each is checked (raster, CRS, date) and listed with its date,
    sensor and size; a file without a date waits until its date is typed in the table."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.files = LimitedFileInput(
            accept=".tif,.tiff," + uploads.SIDECAR_ACCEPT,
            multiple=True,
            label="Choose files",
            max_file_size=MAX_UPLOAD_BYTES,
            max_total_file_size=MAX_UPLOAD_FILES * MAX_UPLOAD_BYTES,
            sizing_mode="stretch_width",
        )
        self.files.param.watch(lambda e: e.new and notify("error", e.new), "refused")
        self.add = ui.Button(label="Add files", icon="upload", sizing_mode="stretch_width")
        self.add.on_click(self._add)
        self.files.param.watch(self._add, "value")  # check the files as soon as they arrive
        self.table = pn.widgets.Tabulator(
            uploads.file_rows(self.state),
            show_index=False,
            hidden_columns=["id"],
            sizing_mode="stretch_width",
            editors={
                "file": None,
                "sensor": None,
                "path/row": None,
                "size": None,
                "id": None,
                "date": DateEditor(),
            },
            formatters={"date": DateFormatter(format="%Y-%m-%d", nan_format="type a date")},
            titles={"date": "date ✎"},
            pagination=None,
            max_height=240,
            configuration={"columnDefaults": {"headerSort": False}},
        )
        self.table.on_edit(self._edited)
        self.message = pn.pane.Markdown(
            f"GeoTIFFs in a projected CRS (metres), up to {MAX_UPLOAD_BYTES // 2**20} MB each; the date comes from "
            "the tags, a metadata file uploaded with it (`*_MTL.txt`, `*_MTL.json`, `MTD_TL.xml`) or the file name "
            "(Landsat and Sentinel-2 names); click a date to change it.",
            sizing_mode="stretch_width",
            name="upload message",
        )
        self.state.param.watch(lambda e: self._refresh(), "scenes")
        self._refresh()

    def _add(self, _event=None) -> None:
        values = self.files.value
        names = self.files.filename
        if values is None or (isinstance(values, list) and not values):  # b"" is an empty file: said below
            notify("warning", "Choose one or more GeoTIFF files first.")
            return
        if not isinstance(values, list):
            values, names = [values], [names]
        self.add_files(list(zip(names, values, strict=True)))

    def add_files(self, files: list[tuple[str, bytes]]) -> tuple[list[str], list[str], list[str]]:
        """Check and add ``(filename, bytes)`` uploads; returns (ids added, ids waiting for a date, messages)."""
        added, pending, problems = uploads.add_files(self.state, files)
        self._refresh()
        lines = [f"- {p}" for p in problems]
        if pending:
            lines.append(f"- {uploads.missing(self.state)}")
        if lines:
            self.message.object = "\n".join(lines)
        for problem in problems:
            notify("error", problem)
        if pending:
            notify("warning", uploads.missing(self.state))
        if added:
            notify(
                "success",
                f"Added {', '.join(added)}. {self.state.next_step() or 'A pair is ready: press Run.'}",
            )
        return added, pending, problems

    def _edited(self, event) -> None:
        """A date typed in the table: the file becomes (or stays) a scene with that date."""
        if event.column != "date":
            return
        frame = self.table.value
        scene_id = str(frame.iloc[event.row]["id"])
        try:
            uploads.set_date(self.state, scene_id, event.value)
        except TrackingError as err:
            notify("error", str(err))
        self._refresh()

    def _refresh(self) -> None:
        rows = uploads.file_rows(self.state)
        if not rows.equals(self.table.value if isinstance(self.table.value, pd.DataFrame) else None):
            self.table.value = rows
        self.table.visible = len(rows) > 0

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.files, self.add, self.table, self.message, sizing_mode="stretch_width")
