"""Tests of tracking.trends: outlier rejection per time-separation bin, the robust trend + seasonal fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tracking.exceptions import ParameterError
from tracking.schema import empty_series
from tracking.trends import FIT_COLUMNS, fit_series, fitted_curve, reject_outliers

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
JAKOBSHAVN = FIXTURES / "itslive" / "timeseries_LAT69.1117--LON-49.4604.csv"
START = pd.Timestamp("2014-01-01")
TRUTH = {"mean": 1000.0, "trend": 40.0, "amplitude": 150.0, "peak": 200.0}  # m/yr, m/yr/yr, m/yr, day


def years(times) -> np.ndarray:
    return 2014 + np.asarray((pd.DatetimeIndex(times) - START) / pd.Timedelta(days=365.25), dtype=float)


def truth_at(times, dt_days=0.0) -> np.ndarray:
    """The true mean speed over pairs of length ``dt_days`` centred on ``times``."""
    t = years(times)
    seasonal = np.sinc(np.asarray(dt_days) / 365.25) * np.cos(2 * np.pi * (t - (TRUTH["peak"] - 1) / 365.25))
    return TRUTH["mean"] + TRUTH["trend"] * (t - 2018) + TRUTH["amplitude"] * seasonal


def synthetic(n: int = 1500, *, seed: int = 0, share: float = 0.05, point: str = "P"):
    """Pairs of mixed length over 8 years, noise 2000 m / dt, and a ``share`` of gross outliers (the mask)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([6, 12, 16, 24, 32, 48, 64, 96, 128, 200, 365], dtype=float)
    odds = np.array([8, 8, 8, 5, 5, 3, 3, 2, 2, 2, 2], dtype=float)
    dt = rng.choice(lengths, n, p=odds / odds.sum())
    t0 = START + pd.to_timedelta(rng.uniform(0, 8 * 365.25 - dt), unit="D")
    mid = t0 + pd.to_timedelta(dt / 2, unit="D")
    true, sigma = truth_at(mid, dt), 2000.0 / dt
    outlier = rng.random(n) < share
    gross = np.maximum(rng.uniform(0.4, 1.0, n) * true, rng.uniform(10, 20, n) * sigma)
    sign = np.where((rng.random(n) < 0.5) & (true > gross), -1.0, 1.0)
    v = np.where(outlier, true + sign * gross, true + rng.normal(0.0, sigma))
    table = pd.DataFrame(
        {
            "point": point,
            "t0": t0,
            "t1": t0 + pd.to_timedelta(dt, unit="D"),
            "mid_date": mid,
            "dt_days": dt,
            "v": v,
            "v_error": sigma,
            "source": "synthetic",
        }
    )
    return table, outlier


def test_recovers_known_mean_trend_and_season_and_flags_gross_outliers():
    series, truth = synthetic()
    flags = reject_outliers(series)
    assert flags.index.equals(series.index) and flags.dtype == bool
    assert flags[truth].mean() > 0.9 and flags[~truth].mean() < 0.02
    fit = fit_series(series).iloc[0]
    first, last = series["mid_date"].min(), series["mid_date"].max()
    assert fit["n"] + fit["n_outliers"] == len(series) and fit["n_outliers"] == flags.sum()
    mean_true = TRUTH["mean"] + TRUTH["trend"] * (years([fit["t_ref"]])[0] - 2018)
    assert abs(fit["mean"] - mean_true) < 0.01 * mean_true
    assert abs(fit["trend"] - TRUTH["trend"]) < 0.05 * TRUTH["trend"]
    assert abs(fit["seasonal_amplitude"] - TRUTH["amplitude"]) < 0.1 * TRUTH["amplitude"]
    assert abs(fit["seasonal_peak"] - TRUTH["peak"]) < 15
    for name in ("mean", "trend", "seasonal_amplitude"):
        assert 0 < fit[f"{name}_se"] < 0.05 * abs(fit[name])
    assert first <= fit["t_start"] < fit["t_ref"] < fit["t_end"] <= last
    assert 0 < fit["residual_spread"] < 200


def test_fitted_curve_follows_the_data_and_the_truth():
    series, truth = synthetic(seed=1)
    fit = fit_series(series).iloc[0]
    good = series[~truth]
    residual = good["v"].to_numpy() - fitted_curve(fit, good["mid_date"], dt_days=good["dt_days"].to_numpy())
    assert abs(np.median(residual)) < 5
    times = pd.date_range("2015-01-01", "2021-01-01", freq="7D")
    assert np.max(np.abs(fitted_curve(fit, times) - truth_at(times))) < 0.03 * TRUTH["mean"]
    failed = {
        "t_ref": pd.NaT,
        "mean": np.nan,
        "trend": np.nan,
        "seasonal_amplitude": np.nan,
        "seasonal_peak": np.nan,
    }
    assert np.isnan(fitted_curve(failed, times)).all()


def test_dt_bins_give_each_separation_its_own_noise_level():
    """Noisy 6-day pairs and precise 100-day pairs of a steady glacier, one gross error among the precise."""
    rng = np.random.default_rng(3)
    n = 400
    dt = np.tile([6.0, 100.0], n // 2)
    sigma = np.where(dt < 50, 300.0, 10.0)
    v = 1000.0 + rng.normal(0.0, sigma)
    v[201] = 1150.0  # a 100-day pair 15 sigma off
    series = pd.DataFrame(
        {
            "point": "P",
            "mid_date": START + pd.to_timedelta(np.arange(n) * 5.0, unit="D"),
            "dt_days": dt,
            "v": v,
        }
    )
    short = dt < 50
    binned = reject_outliers(series).to_numpy()
    assert not binned[short].any()  # the short bin's own, wide scale: none of its good speeds is flagged
    assert binned[201] and binned[~short].sum() <= 2
    pooled = reject_outliers(series, dt_bins=(0, 10_000)).to_numpy()
    assert pooled[short].mean() > 0.2  # one scale for both: good but noisy short pairs are flagged...
    assert not pooled[201]  # ...and the precise pair's gross error is not


def test_a_decorrelated_long_dt_bin_is_dropped_whole():
    series, _ = synthetic(seed=2, share=0.0)
    long = series["dt_days"] >= 128
    series.loc[long, "v"] = 0.4 * series.loc[long, "v"]  # long pairs over fast ice: a low, consistent speed
    assert reject_outliers(series)[long].all()
    assert reject_outliers(series, compare_bins=False)[long].mean() < 0.05
    fit = fit_series(series).iloc[0]
    assert abs(fit["trend"] - TRUTH["trend"]) < 0.1 * TRUTH["trend"]


def test_missing_values_are_neither_outliers_nor_used():
    series, _ = synthetic(n=300, seed=4, share=0.0)
    series.loc[::10, "v"] = np.nan
    series.loc[5, "mid_date"] = pd.NaT
    series.loc[7, "dt_days"] = np.nan
    series.loc[::7, "v_error"] = np.nan
    flags = reject_outliers(series)
    assert not flags[series["v"].isna() | series["mid_date"].isna()].any()
    fit = fit_series(series).iloc[0]
    assert fit["n"] + fit["n_outliers"] == series["v"].notna().sum() - 1
    assert abs(fit["trend"] - TRUTH["trend"]) < 0.25 * TRUTH["trend"]
    assert fit_series(series, weights="equal")["mean"].notna().all()
    assert fit_series(series.drop(columns="v_error"))["mean"].notna().all()


def test_sparse_points_get_nans_without_error():
    long, _ = synthetic(n=200, seed=5, share=0.0, point="A")
    few = long.iloc[:3].assign(point="B")
    brief = long[long["mid_date"] < START + pd.Timedelta(days=200)].assign(point="C")
    empty = long.iloc[:4].assign(point="D", v=np.nan)
    fits = fit_series(pd.concat([long, few, brief, empty], ignore_index=True)).set_index("point")
    assert list(fits.index) == ["A", "B", "C", "D"]
    assert fits.loc["A", ["mean", "trend", "seasonal_amplitude"]].notna().all()
    assert fits.loc["B", "n"] == 3 and fits.loc["B", FIT_COLUMNS[6:]].isna().all()
    assert fits.loc["B", "t_start"] == few["mid_date"].min()
    assert fits.loc["C", ["mean", "trend"]].notna().all()  # under a year: no seasonal term
    assert fits.loc["C", ["seasonal_amplitude", "seasonal_peak", "seasonal_amplitude_se"]].isna().all()
    assert fits.loc["D", "n"] == 0 and pd.isna(fits.loc["D", "t_start"]) and np.isnan(fits.loc["D", "mean"])


def test_points_are_fitted_separately():
    a, _ = synthetic(n=400, seed=6, point="A")
    b, _ = synthetic(n=400, seed=7, point="B")
    b["v"] *= 2
    both = pd.concat([b, a])  # index labels repeat
    fits = fit_series(both, outliers=reject_outliers(both))
    assert list(fits["point"]) == ["A", "B"]
    assert fits["mean"].iloc[1] / fits["mean"].iloc[0] == pytest.approx(2.0, rel=0.02)


def test_empty_table_and_bad_arguments():
    assert reject_outliers(empty_series()).empty
    fits = fit_series(empty_series())
    assert fits.empty and tuple(fits.columns) == FIT_COLUMNS
    series, _ = synthetic(n=50)
    with pytest.raises(ParameterError, match="increasing"):
        reject_outliers(series, dt_bins=(0, 32, 16))
    with pytest.raises(ParameterError, match="window"):
        reject_outliers(series, window=1)
    with pytest.raises(ParameterError, match="weights"):
        fit_series(series, weights="snr")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="one flag per row"):
        fit_series(series, outliers=np.zeros(3, dtype=bool))
    with pytest.raises(ParameterError, match="mid_date"):
        fit_series(series.drop(columns="mid_date"))


@pytest.fixture(scope="module")
def jakobshavn() -> pd.DataFrame:
    if not JAKOBSHAVN.exists():
        pytest.skip(f"shared fixture {JAKOBSHAVN.name} is not available")
    from tracking.sources.itslive import read_series_csv

    return read_series_csv(JAKOBSHAVN)


def test_jakobshavn_record(jakobshavn):
    """ITS_LIVE at Jakobshavn Isbræ, 4225 pairs 1984-2022: long pairs decorrelate, summer speed-up."""
    flags = reject_outliers(jakobshavn)
    dt = jakobshavn["dt_days"]
    assert flags[dt >= 128].all()  # ~400-550 m/yr where the short pairs see ~7500: dropped as a bin
    assert flags[jakobshavn["v"] > 30_000].all()  # the int16 fill value 32767
    assert 0.005 < flags[dt < 32].mean() < 0.05
    whole = fit_series(jakobshavn, outliers=flags).iloc[0]
    assert whole["n"] + whole["n_outliers"] == len(jakobshavn) == 4225
    assert 3000 < whole["mean"] < 9000
    recent = fit_series(jakobshavn[jakobshavn["mid_date"] >= "2015-01-01"]).iloc[0]
    assert 4000 < recent["mean"] < 9000
    assert recent["seasonal_amplitude"] > 5 * recent["seasonal_amplitude_se"] > 0
    assert 150 < recent["seasonal_peak"] < 280  # summer to early autumn (monthly medians peak Jul-Sep)
