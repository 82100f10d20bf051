"""A file input whose size limits hold on the server: chunks beyond them are refused before they are kept.

`panel_material_ui.FileInput` uploads in chunks (``chunk_size``, 10 MiB), so that no websocket message is larger
than a chunk, and checks ``max_file_size`` / ``max_total_file_size`` in the browser. A hostile client can skip the
browser's check, so `LimitedFileInput` checks again on the server, chunk by chunk, before it buffers anything:
an upload that says or turns out to be larger than the limits is dropped whole, and the page is told why. The
server's websocket message limit (``--websocket-max-message-size`` in the Procfile) only needs to hold one chunk.
"""

from __future__ import annotations

from typing import Any

import param
from panel import ui

#: Bytes per upload message: the Procfile's --websocket-max-message-size (20 MiB) holds one with room to spare.
CHUNK_BYTES = 8 * 2**20


class LimitedFileInput(ui.FileInput):
    """`panel_material_ui.FileInput` with ``max_file_size`` and ``max_total_file_size`` enforced on the server.

    ``refused`` holds the message of the last upload dropped for its size (watch it to tell the user).
    """

    refused = param.String(default="", doc="Why the last upload was dropped (empty: none was).")

    def __init__(self, **params: Any) -> None:
        params.setdefault("chunk_size", CHUNK_BYTES)
        super().__init__(**params)

    def _process_chunk(self, msg: dict) -> None:
        name, chunks = str(msg.get("name")), int(msg.get("total_chunks") or 0)
        size = len(msg.get("data") or b"")
        kept = self._file_buffer.get(name, {}).get("chunks", {})
        so_far = sum(map(len, kept.values())) + size
        declared = max(so_far, (chunks - 1) * self.chunk_size)  # what the file will be at least
        total = so_far + sum(
            sum(map(len, f["chunks"].values())) for n, f in self._file_buffer.items() if n != name
        )
        total += sum(len(f["value"]) for f in self._buffer)
        problem = ""
        if size > self.chunk_size:
            problem = f"{name}: a piece of {size:,} bytes is larger than the upload's {self.chunk_size:,}-byte chunks"
        elif self.max_file_size and declared > self.max_file_size:
            problem = f"{name} is larger than {self.max_file_size // 2**20} MB, the most one file may be"
        elif self.max_total_file_size and total > self.max_total_file_size:
            problem = f"these files together are larger than {self.max_total_file_size // 2**20} MB, the most at once"
        if problem:
            self._file_buffer.clear()
            self._buffer.clear()
            self.refused = (
                f"{problem}: crop the image to your area of interest (e.g. gdal_translate -projwin) first."
            )
            self._send_msg({"status": "error", "error": self.refused})
            return
        super()._process_chunk(msg)
