"""Thin views of the dashboard: each reads and sets one `AppState` and renders it with Panel and HoloViews."""

from dashboard.views.batch import BatchView
from dashboard.views.compare import CompareView
from dashboard.views.export import ExportView
from dashboard.views.itslive import ItsLiveView
from dashboard.views.pairs import PairsView
from dashboard.views.parameters import ParametersView
from dashboard.views.quality import QualityView
from dashboard.views.results import ResultsView
from dashboard.views.run import RunView
from dashboard.views.series import SeriesView
from dashboard.views.upload import UploadView
from dashboard.views.where import WhereView

__all__ = [
    "BatchView",
    "CompareView",
    "ExportView",
    "ItsLiveView",
    "PairsView",
    "ParametersView",
    "QualityView",
    "ResultsView",
    "RunView",
    "SeriesView",
    "UploadView",
    "WhereView",
]
