"""icetrack's Panel dashboard: the whole feature-tracking workflow in the browser or in a notebook.

Serve it with ``panel serve dashboard/app.py``; in a notebook, ``from dashboard import IceTrack`` and show
``IceTrack(...)`` (`dashboard.notebook`); build the page in Python with `dashboard.page.create_app`.
"""

__all__ = ["IceTrack"]


def __getattr__(name: str):
    if name == "IceTrack":  # imported on first use: `import dashboard.state` stays free of the page's imports
        from dashboard.notebook import IceTrack

        return IceTrack
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
