"""icetrack's Panel dashboard: the whole feature-tracking workflow in the browser.

Serve it with ``panel serve dashboard/app.py``; build it in Python with `dashboard.app.create_app`.
"""
