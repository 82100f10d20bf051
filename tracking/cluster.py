"""Dask clients: the one place icetrack connects to a ``dask.distributed`` scheduler or starts a local cluster.

`open_client` connects to a running scheduler; `DaskConnection` gives a batch its client (the one given, one
connected to an address, or a `distributed.LocalCluster` of its own) and closes what it opened.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Self

from tracking.exceptions import TrackingError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DaskConnection", "open_client"]


def open_client(address: str, *, timeout: str | None = None, set_as_default: bool = True) -> Client:
    """A client of the Dask scheduler at ``address``.

    Parameters
    ----------
    address : str
        E.g. ``"tcp://10.0.0.5:8786"``.
    timeout : str, optional
        How long to try to connect (e.g. ``"10s"``; default: Dask's setting).
    set_as_default : bool
        Make it the default client of the process (Dask's default).

    Raises
    ------
    OSError
        The scheduler cannot be reached.
    """
    from distributed import Client

    options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    if not set_as_default:
        options["set_as_default"] = False
    return Client(address, **options)


class DaskConnection:
    """A client for a batch: the one given, one connected to ``scheduler``, or a new `LocalCluster`.

    A context manager: it closes the client and the cluster it opened (never a client given). With a local
    cluster of its own, each worker's tasks use ``cores // n_workers`` Numba threads (``numba_threads``); on a
    cluster given by client or address the workers' settings are left alone.

    Parameters
    ----------
    client : distributed.Client, optional
        A client to use as it is.
    scheduler : str, optional
        Address of a running scheduler to connect to.
    n_workers : int
        Without ``client`` or ``scheduler``: worker processes of the local cluster started.
    """

    def __init__(self, client: Client | None, scheduler: str | None, n_workers: int) -> None:
        self.given, self.address, self.n_workers = client, scheduler, n_workers
        self.client: Client = client  # type: ignore[assignment]
        self.cluster: Any = None
        self.numba_threads: int | None = None
        self._own_client = False

    def __enter__(self) -> Self:
        from distributed import Client, LocalCluster

        if self.given is not None:
            return self
        if self.address is not None:
            try:
                self.client = open_client(self.address)
            except (OSError, TimeoutError) as err:
                raise TrackingError(
                    f"cannot reach the Dask scheduler at {self.address} ({err}): start one ('dask scheduler' and "
                    "'dask worker <address>'), check the address, or leave it out to use local workers."
                ) from None
            self._own_client = True
            return self
        self.numba_threads = max(1, (os.cpu_count() or 1) // self.n_workers)
        self.cluster = LocalCluster(
            n_workers=self.n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # its health/metrics server: any free port
        )
        self.client = Client(self.cluster)
        self._own_client = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
