"""Progress and cancellation of long work: one protocol for kernels, tiles, batches and the dashboard.

Long work takes ``progress(done, total)``, a `ProgressCallback` it calls as it goes, and ``cancel``, a
`threading.Event`; it calls `check_cancel` between units of work, which raises `CancelledError` once the event
is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tracking.exceptions import CancelledError

__all__ = ["CANCELLED", "ProgressCallback", "check_cancel"]

#: ``progress(done, total)``: called with the units of work done so far and their total.
ProgressCallback = Callable[[int, int], None]

#: The message of `CancelledError` when a tracking run is cancelled.
CANCELLED = "tracking was cancelled before it finished; no result was written."


def check_cancel(cancel: threading.Event | None, message: str = CANCELLED) -> None:
    """Raise `CancelledError` with ``message`` if ``cancel`` is set.

    Parameters
    ----------
    cancel : threading.Event or None
        The event the user sets to stop the work; None: the work cannot be cancelled.
    message : str
        What the error says.

    Raises
    ------
    CancelledError
        ``cancel`` is set.
    """
    if cancel is not None and cancel.is_set():
        raise CancelledError(message)
