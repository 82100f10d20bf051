"""Open the results of a batch run (``icetrack batch`` on a Dask cluster) as the session's results."""

from __future__ import annotations

import asyncio

import panel as pn
from panel import ui

from dashboard.loaders import DATA_ROOT_VARIABLE, data_root, open_batch
from dashboard.views.base import StateView, notify
from tracking.exceptions import TrackingError


class BatchView(StateView):
    """A server path (the run's folder or its Zarr stack, under ``ICETRACK_DATA_ROOT``) and an Open button.

    Without ``ICETRACK_DATA_ROOT`` (the Procfile's default) the step only says that it is off: a public server
    opens no path a visitor types.
    """

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.path = ui.TextInput(
            label="Folder or stack, under the server's data folder",
            placeholder="e.g. runs/jakobshavn or runs/stack.zarr",
            sizing_mode="stretch_width",
        )
        self.open = ui.Button(
            label="Open batch results", icon="folder_open", variant="outlined", sizing_mode="stretch_width"
        )
        self.open.on_click(self._open)

    async def _open(self, _event=None) -> None:
        path = (self.path.value or "").strip()
        if not path:
            notify("warning", "Type the folder 'icetrack batch -o' wrote, or its --stack .zarr.")
            return
        self.open.loading = True
        try:
            fields = await asyncio.to_thread(open_batch, path)
        except TrackingError as err:
            notify("error", str(err))
            return
        finally:
            self.open.loading = False
        for key, field in fields:
            self.state.add_result(key, field)
        self.state.add_log(f"Opened {len(fields)} fields of the batch {path}.")
        notify("success", f"{len(fields)} batch results added: see the speed map, the series and Compare.")

    def __panel__(self) -> pn.viewable.Viewable:
        if data_root() is None:
            return pn.pane.Markdown(
                f"Opening batch results from the server is off: the operator sets "
                f"`{DATA_ROOT_VARIABLE}` to the folder that holds them.",
                sizing_mode="stretch_width",
            )
        return pn.Column(self.path, self.open, sizing_mode="stretch_width")
