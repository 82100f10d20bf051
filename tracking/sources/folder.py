"""`LocalFolderSource`: the GeoTIFFs of one folder on disk, as an image source."""

from __future__ import annotations

import os
from pathlib import Path

from tracking.exceptions import SceneReadError
from tracking.sources.local import FileSource

__all__ = ["LocalFolderSource"]


class LocalFolderSource(FileSource):
    """The GeoTIFFs (``*.tif``, ``*.tiff``) of a folder; a scene's id is its file name without the suffix.

    Parameters
    ----------
    folder : path
        The folder; its files are listed once, when the source is made.
    """

    key = "folder"
    label = "A folder of GeoTIFFs"

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SceneReadError(f"{folder}: no such folder: give the folder that holds your GeoTIFFs.")
        super().__init__(sorted(p for p in self.folder.iterdir() if p.suffix.lower() in (".tif", ".tiff")))
