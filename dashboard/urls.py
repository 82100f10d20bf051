"""A link that restores the view: the session's place, dates, pair, changed parameters and points in the URL.

`to_query` and `from_query` are the encoding, tested without a browser. `sync_url` wires it to the served page:
Panel's ``pn.state.location.sync`` keeps the place and dates (`PLACE_ARGS`: one parameter, one argument) in the
address bar both ways; the pair, the parameters and the points, which need a search or a parse of their own, are
restored by `from_query` once and rewritten whenever they change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import panel as pn

from dashboard.page_loads import served_document
from dashboard.state import AppState
from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters

__all__ = ["PLACE_ARGS", "from_query", "sync_url", "to_query", "view_query"]

#: `AppState` parameters kept in the link as they are, by their query argument.
PLACE_ARGS = {
    "lon": "lon",
    "lat": "lat",
    "aoi_km": "aoi",
    "band": "band",
    "start": "start",
    "end": "end",
    "max_cloud": "cloud",
}


def view_query(state: AppState) -> dict[str, str]:
    """The chosen pair (``reference~secondary``), the parameters that differ from the defaults (``p.<name>``) and
    the points (``name:lat:lon;...``) as URL query arguments."""
    query = {}
    pairs = state.pairs_to_run()
    if state.pair_mode == "one" and len(pairs):
        query["pair"] = f"{pairs.iloc[0]['reference']}~{pairs.iloc[0]['secondary']}"
    defaults = TrackingParameters().to_dict()
    for name, value in state.params.to_dict().items():
        if value != defaults[name]:
            query[f"p.{name}"] = str(value)
    if len(state.points):
        query["points"] = ";".join(f"{p.name}:{p.lat:.5f}:{p.lon:.5f}" for p in state.points.itertuples())
    return query


def to_query(state: AppState) -> dict[str, str]:
    """The place, dates, pair, changed parameters and points as URL query arguments."""
    return {**{arg: str(getattr(state, name)) for name, arg in PLACE_ARGS.items()}, **view_query(state)}


def from_query(state: AppState, args: dict[str, str]) -> None:
    """Restore what `to_query` wrote into ``state`` (a pair searches the scenes first).

    Raises
    ------
    ParameterError
        An argument that does not parse or is out of range: the link is not valid.
    """
    try:
        state.param.update(
            **{
                name: _parse_like(state.param[name].default, args[arg])
                for name, arg in PLACE_ARGS.items()
                if arg in args
            }
        )
        overrides = {k[2:]: v for k, v in args.items() if k.startswith("p.")}
        if overrides:
            current = state.params.to_dict()
            typed = {k: _parse_like(current.get(k), v) for k, v in overrides.items()}
            new = TrackingParameters.from_overrides(state.params, **typed)
            state.params.param.update(**{k: getattr(new, k) for k in typed})
            if "prefilter_size" in typed:  # choosing the pre-filter resets its size
                state.params.prefilter_size = typed["prefilter_size"]
        if args.get("points"):
            state.points = state.points.iloc[0:0]
            for item in args["points"].split(";"):
                name, lat, lon = item.rsplit(":", 2)
                state.add_point(float(lon), float(lat), name)
    except (ValueError, KeyError) as err:
        raise ParameterError(f"the link is not valid ({err}): open the app without arguments.") from None
    if "pair" in args:
        state.search()
        ref, _, sec = args["pair"].partition("~")
        match = state.pairs.index[(state.pairs["reference"] == ref) & (state.pairs["secondary"] == sec)]
        if len(match):
            state.selected = [int(match[0])]


def _parse_like(current: Any, text: str) -> Any:
    """Parse a query value to the type of ``current`` (a parameter's value or default)."""
    if text in ("None", ""):
        return None
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, dt.date):
        return dt.date.fromisoformat(text)
    if isinstance(current, float) or current is None:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def sync_url(state: AppState, notify: Any) -> None:
    """Restore the session from the served page's URL and keep the URL current (nothing outside a server).

    Parameters
    ----------
    state : AppState
        The session.
    notify : callable
        ``notify(level, message)``: how a link that is not valid is reported.
    """
    location = pn.state.location
    if location is None or served_document() is None:
        return  # not served (a notebook: the address bar is JupyterLab's)

    def bad_link(values: dict[str, Any]) -> None:
        notify("error", f"the link is not valid ({values}): open the app without arguments.")

    location.sync(state, PLACE_ARGS, on_error=bad_link)  # applies the link's place and dates now
    args = {
        k: v[0].decode()
        for k, v in (pn.state.session_args or {}).items()
        if v and k not in PLACE_ARGS.values()
    }
    if args:
        try:
            from_query(state, args)
        except TrackingError as err:
            notify("error", str(err))

    def update(*_events: Any) -> None:
        place = {arg: value for arg, value in location.query_params.items() if arg in PLACE_ARGS.values()}
        location.search = "?" + urlencode({**place, **view_query(state)})

    state.param.watch(update, ["selected", "points"])
    state.params.param.watch(update, [n for n in state.params.param if n != "name"])
