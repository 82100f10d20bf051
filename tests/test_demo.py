"""Tests of the embedded synthetic demo glacier (``tracking.sources.demo``)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import map_coordinates
from scipy.optimize import minimize
from scipy.signal import fftconvolve

from tracking.exceptions import TrackingError
from tracking.sources import demo
from tracking.sources.demo import catalogue as demo_catalogue
from tracking.sources.demo import kernels as demo_kernels
from tracking.sources.demo import render as demo_render

# A cloud-free path-9 pair, 16 days apart, in the fast summer of 2015 (seed 0).
PAIR = ("LC08_L1TP_009011_20150721_DEMO", "LC08_L1TP_009011_20150806_DEMO")
# Fjord, front and lower trunk: fast crevassed ice, rock walls, mélange.
TRUNK_BBOX = (547000.0, 7660000.0, 568000.0, 7676000.0)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every demo cache file of this module in one temporary folder."""
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path_factory.getbasetemp() / "demo-cache"))


def _scene_id_where(frame: pd.DataFrame, mask: pd.Series) -> str:
    return str(frame.loc[mask, "scene_id"].iloc[0])


# --- catalog -----------------------------------------------------------------------------------------------


def test_catalog_columns_and_schedule() -> None:
    cat = demo.catalog()
    assert list(cat.columns) == [
        "scene_id",
        "time",
        "platform",
        "sensor",
        "path",
        "row",
        "cloud_cover",
        "geometry",
    ]
    assert cat.crs.to_epsg() == 4326
    assert cat["time"].dtype == np.dtype("datetime64[ns]")
    assert cat["time"].is_monotonic_increasing
    assert cat["scene_id"].is_unique
    assert set(cat["path"]) == {8, 9}
    assert set(cat["row"]) == {11}
    assert set(cat["time"].dt.month) <= set(range(3, 11))
    assert cat["time"].dt.year.min() == 2015
    assert cat["time"].dt.year.max() == 2024
    assert (cat["time"].dt.hour == 14).all()
    assert cat["time"].dt.minute.isin([50, 56]).all()
    first = cat.iloc[0]
    assert first["scene_id"] == "LC08_L1TP_008011_20150308_DEMO"
    assert first["platform"] == "LANDSAT_8"
    assert first["sensor"] == "Landsat 8 OLI"
    l9 = cat[cat["platform"] == "LANDSAT_9"]
    assert len(l9) > 40
    assert (l9["sensor"] == "Landsat 9 OLI-2").all()
    assert l9["time"].min() >= pd.Timestamp("2021-10-31")
    assert l9["scene_id"].str.startswith("LC09_L1TP_").all()
    # 16-day repeat per platform and path; Landsat 9 flies 8 days after Landsat 8
    for (_, _), group in cat.groupby(["platform", "path"]):
        days = (group["time"].dt.normalize().diff().dropna() / pd.Timedelta(days=1)).to_numpy()
        assert np.all(days % 16 == 0)
    l9_days = l9.loc[l9["path"] == 8, "time"].dt.normalize()
    assert (((l9_days - pd.Timestamp("2015-03-08")).dt.days - 8) % 16 == 0).all()
    path9 = cat.loc[(cat["platform"] == "LANDSAT_8") & (cat["path"] == 9), "time"].dt.normalize()
    assert (((path9 - pd.Timestamp("2015-03-08")).dt.days - 7) % 16 == 0).all()
    # footprints: rotated quadrilaterals over Jakobshavn (about 69.2 N, 49.9 W)
    for geom in cat["geometry"].iloc[:4]:
        assert len(geom.exterior.coords) == 5
        assert geom.is_valid and geom.area > 1.0
    assert all(g.bounds[1] < 69.2 < g.bounds[3] for g in cat["geometry"])


def test_catalog_is_cheap_and_seeded() -> None:
    demo.catalog(seed=0)
    start = time.perf_counter()
    cat = demo.catalog(seed=0)
    assert time.perf_counter() - start < 0.5
    other = demo.catalog(seed=1)
    assert list(cat["scene_id"]) == list(other["scene_id"])
    assert not np.array_equal(cat["cloud_cover"], other["cloud_cover"])
    assert (cat["cloud_cover"] == 0).mean() > 0.3
    assert cat["cloud_cover"].between(0, 100).all()


def test_unknown_scene_id_lists_how_to_find_ids() -> None:
    with pytest.raises(TrackingError, match=r"catalog\(\)"):
        demo.load_scene("LC08_L1TP_008011_19990101_DEMO")


# --- scenes ------------------------------------------------------------------------------------------------


def test_grid_crs_transform_and_bbox_snapping() -> None:
    assert demo.DEMO_CRS == "EPSG:32622"
    xmin, ymin, xmax, ymax = demo.DEMO_BOUNDS
    assert ((xmax - xmin) / 30.0, (ymax - ymin) / 30.0) == (3333.0, 2000.0)
    assert demo_render._grid_shape("red") == (2000, 3333)
    assert demo_render._grid_shape("pan") == (4000, 6666)
    bbox = (550010.0, 7660020.0, 552995.0, 7662990.0)
    red = demo.load_scene(PAIR[0], "red", bbox=bbox)
    assert red.rio.crs.to_epsg() == 32622
    transform = red.rio.transform()
    assert (transform.a, transform.e) == (30.0, -30.0)
    assert red.rio.bounds() == (550000.0, 7660010.0, 553000.0, 7663010.0)  # snapped outwards
    assert red.dtype == np.float32
    assert np.all(np.diff(red["y"]) < 0)
    assert np.all(np.diff(red["x"]) > 0)
    pan = demo.load_scene(PAIR[0], "pan", bbox=red.rio.bounds())
    assert pan.rio.transform().a == 15.0
    assert pan.rio.bounds() == red.rio.bounds()
    assert pan.shape == (2 * red.shape[0], 2 * red.shape[1])
    assert red.attrs["band"] == "red"
    assert pan.attrs["band"] == "pan"


def test_scene_attrs_and_values() -> None:
    scene = demo.load_scene(PAIR[0], bbox=TRUNK_BBOX)
    attrs = scene.attrs
    assert attrs["scene_id"] == PAIR[0]
    assert attrs["time"].startswith("2015-07-21T14:56")
    assert attrs["sensor"] == "Landsat 8 OLI"
    assert attrs["platform"] == "LANDSAT_8"
    assert (attrs["path"], attrs["row"]) == (9, 11)
    assert attrs["cloud_cover"] == 0
    values = scene.values
    assert np.isfinite(values).all()
    assert values.min() >= 0.0
    assert values.max() <= 1.0
    assert 0.3 < float(np.mean(values)) < 0.7


def test_deterministic_from_seed() -> None:
    bbox = (552000.0, 7664000.0, 556000.0, 7668000.0)
    a = demo.load_scene(PAIR[0], bbox=bbox, seed=3)
    b = demo.load_scene(PAIR[0], bbox=bbox, seed=3)
    c = demo.load_scene(PAIR[0], bbox=bbox, seed=4)
    np.testing.assert_array_equal(a.values, b.values)
    assert np.abs(a.values - c.values).mean() > 0.01


def test_footprint_nodata() -> None:
    frame = demo_catalogue.full_catalog(0)
    path8 = _scene_id_where(frame, frame["path"] == 8)
    west = (520000.0, 7690000.0, 526000.0, 7700000.0)
    east = (610000.0, 7640000.0, 619990.0, 7650000.0)
    assert np.isnan(demo.load_scene(path8, bbox=west).values).all()
    assert np.isfinite(demo.load_scene(path8, bbox=east).values).all()
    assert np.isfinite(demo.load_scene(PAIR[0], bbox=west).values).all()


def test_surface_classes_and_featureless_snow() -> None:
    t = "2015-07-21"
    codes = demo.surface_type(
        [530000.0, 560000.0, 540000.0, 612000.0, 596500.0],
        [7668500.0, 7668500.0, 7685000.0, 7689000.0, 7660300.0],
        t,
    )
    assert codes.tolist() == [3, 1, 2, 4, 2]  # mélange, trunk ice, fjord wall, snowfield, nunatak
    snow = demo.load_scene(PAIR[0], bbox=(610500.0, 7688000.0, 613500.0, 7690000.0)).values
    ice = demo.load_scene(PAIR[0], bbox=(556000.0, 7667000.0, 559000.0, 7669000.0)).values
    assert snow.std() < 0.01
    assert ice.std() > 0.05
    assert snow.mean() > ice.mean()


def test_cloud_cover_metadata_matches_cloud_pixels() -> None:
    frame = demo_catalogue.full_catalog(0)
    for scene_id in frame.loc[frame["cloud_cover"] > 10, "scene_id"].iloc[:4]:
        entry = frame.loc[scene_id]
        xmin, ymin, xmax, ymax = demo.DEMO_BOUNDS
        xx, yy = np.meshgrid(np.arange(xmin + 45, xmax, 120.0), np.arange(ymax - 45, ymin, -120.0))
        inside = demo_catalogue._inside(entry["_fp"], xx.ravel(), yy.ravel())
        noise = demo_kernels.cloud_noise(xx.ravel()[inside], yy.ravel()[inside], int(entry["_seed"]))
        fraction = 100.0 * np.mean(noise > entry["_cloud_thr"])
        assert abs(fraction - entry["cloud_cover"]) < 3.0, scene_id
    # thick cloud is bright in the image
    scene_id = _scene_id_where(frame, frame["cloud_cover"] > 40)
    entry = frame.loc[scene_id]
    scene = demo.load_scene(scene_id, bbox=(560000.0, 7650000.0, 580000.0, 7690000.0))
    xx, yy = np.meshgrid(scene["x"].values, scene["y"].values)
    noise = demo_kernels.cloud_noise(xx.ravel(), yy.ravel(), int(entry["_seed"])).reshape(xx.shape)
    thick = noise > entry["_cloud_thr"] + 0.6
    clear = noise < entry["_cloud_thr"]
    assert thick.any() and clear.any()
    assert np.nanmean(scene.values[thick]) > 0.7
    assert np.nanstd(scene.values[thick]) < np.nanstd(scene.values[clear])


# --- motion ------------------------------------------------------------------------------------------------


def test_speed_history_tells_the_jakobshavn_story() -> None:
    s = demo.speed_history
    days = {y: pd.date_range(f"{y}-01-01", f"{y}-12-31", freq="D") for y in range(2015, 2025)}
    annual = {y: float(np.mean(s(d))) for y, d in days.items()}
    slowdown = 1.0 - annual[2018] / annual[2016]
    assert 0.3 <= slowdown <= 0.5
    assert annual[2021] > 1.3 * annual[2018]
    assert s("2016-07-15") > s("2018-07-15")
    assert s("2021-07-15") > s("2018-07-15")
    for year in (2015, 2016, 2022, 2024):
        summer, spring = s(f"{year}-07-20"), s(f"{year}-04-15")
        assert 1.1 < summer / spring < 1.2
    assert isinstance(s("2020-01-01"), float)
    assert s(["2016-07-15", "2018-07-15"]).shape == (2,)


def test_true_velocity_magnitudes_and_stable_ground() -> None:
    front = (549000.0, 7667500.0)
    vx, vy = demo.true_velocity("2016-07-10", "2016-07-26", *front)
    assert 35 * 365.25 < -vx < 42 * 365.25  # fast and westward, about 40 m/day
    assert abs(vy) < 0.2 * abs(vx)
    vx18, _ = demo.true_velocity("2018-07-10", "2018-07-26", *front)
    assert 0.45 < vx18 / vx < 0.7
    upstream, _ = demo.true_velocity("2016-07-10", "2016-07-26", 610000.0, 7669000.0)
    assert -4 * 365.25 < upstream < 0
    # rock never moves, even over years
    xx, yy = np.meshgrid(np.arange(520000.0, 620000.0, 1000.0), np.arange(7640000.0, 7700000.0, 1000.0))
    rock = demo.surface_type(xx, yy) == 2
    assert rock.mean() > 0.2
    dx, dy = demo.true_displacement("2015-03-08", "2024-10-01", xx[rock], yy[rock])
    assert np.abs(dx).max() == 0.0 and np.abs(dy).max() == 0.0
    # forward then backward returns to the start
    px, py = np.array([552000.0, 575000.0]), np.array([7668000.0, 7672000.0])
    fx, fy = demo.true_displacement("2016-05-01", "2016-06-01", px, py)
    bx, by = demo.true_displacement("2016-06-01", "2016-05-01", px + fx, py + fy)
    np.testing.assert_allclose(fx + bx, 0.0, atol=0.05)
    np.testing.assert_allclose(fy + by, 0.0, atol=0.05)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = (a - a.mean()) / a.std()
    b = (b - b.mean()) / b.std()
    return float(np.mean(a * b))


def _refine(tpl: np.ndarray, sec: np.ndarray, rows: np.ndarray, cols: np.ndarray, start: np.ndarray):
    """The extra (row, col) shift of ``sec`` sampled at (rows, cols) best matching ``tpl`` (spline NCC)."""

    def cost(shift: np.ndarray) -> float:
        moved = map_coordinates(sec, [rows + shift[0], cols + shift[1]], order=3, mode="nearest")
        return -_ncc(tpl, moved)

    best = minimize(cost, start, method="Nelder-Mead", options={"xatol": 0.005, "fatol": 1e-7})
    return best.x, -best.fun


def _ncc_track(
    ref: np.ndarray, sec: np.ndarray, row: int, col: int, half: int, search: int
) -> tuple[float, float]:
    """Brute-force NCC of a (2 half) px template around (row, col), then spline sub-pixel refinement.

    Returns the (row, col) shift of the feature from ``ref`` to ``sec`` in pixels.
    """
    tpl = ref[row - half : row + half, col - half : col + half]
    win = sec[row - half - search : row + half + search, col - half - search : col + half + search]
    t = (tpl - tpl.mean()) / tpl.std()
    ones = np.ones_like(t)
    num = fftconvolve(win, t[::-1, ::-1], mode="valid")
    s1 = fftconvolve(win, ones, mode="valid")
    s2 = fftconvolve(win * win, ones, mode="valid")
    ncc = num / np.sqrt(np.maximum(s2 - s1 * s1 / t.size, 1e-12)) / np.sqrt(t.size)
    r0, c0 = np.unravel_index(np.argmax(ncc), ncc.shape)
    rr, cc = np.mgrid[row - half : row + half, col - half : col + half].astype(float)
    shift, _ = _refine(tpl, sec, rr, cc, np.array([r0 - search, c0 - search], dtype=float))
    return float(shift[0]), float(shift[1])


# chips on the fast trunk (10-20 px in 16 days) from the front to where the branches join
TRUNK_CHIPS = [(553000.0, 7668000.0), (557500.0, 7668500.0), (562000.0, 7669000.0), (565000.0, 7668500.0)]


def test_truth_matches_the_images_by_brute_force_ncc() -> None:
    ref = demo.load_scene(PAIR[0], bbox=TRUNK_BBOX)
    sec = demo.load_scene(PAIR[1], bbox=TRUNK_BBOX)
    t0, t1 = ref.attrs["time"], sec.attrs["time"]
    px, half, search = 30.0, 16, 28
    for x, y in TRUNK_CHIPS:
        col = int(np.argmin(np.abs(ref["x"].values - x)))
        row = int(np.argmin(np.abs(ref["y"].values - y)))
        drow, dcol = _ncc_track(ref.values, sec.values, row, col, half, search)
        # the truth at every pixel of the chip
        xs = ref["x"].values[col - half : col + half]
        ys = ref["y"].values[row - half : row + half]
        tx, ty = demo.true_displacement(t0, t1, xs[None, :], ys[:, None])
        assert np.abs(tx).mean() > 5 * px  # really moving
        error = (drow + ty.mean() / px, dcol - tx.mean() / px)
        assert np.abs(error).max() < 0.25, (x, y, error)
        # warping the secondary back with the true field leaves no shift at all (strain included)
        rr, cc = np.mgrid[row - half : row + half, col - half : col + half].astype(float)
        tpl = ref.values[row - half : row + half, col - half : col + half]
        residual, score = _refine(tpl, sec.values, rr - ty / px, cc + tx / px, np.zeros(2))
        assert np.abs(residual).max() < 0.1, (x, y, residual)
        assert score > 0.8


def test_true_velocity_field_on_the_reference_grid() -> None:
    ref = demo.load_scene(PAIR[0], bbox=TRUNK_BBOX)
    sec = demo.load_scene(PAIR[1], bbox=TRUNK_BBOX)
    field = demo.true_velocity_field(ref, sec)
    assert set(field.data_vars) == {"vx", "vy", "v"}
    assert field["v"].shape == ref.shape
    assert field.rio.crs.to_epsg() == 32622
    np.testing.assert_array_equal(field["x"], ref["x"])
    assert 12000 < float(field["v"].max()) < 16000  # m/yr: ~40 m/day at the front in summer 2015
    np.testing.assert_allclose(field["v"], np.hypot(field["vx"], field["vy"]), rtol=1e-5)
    coarse = demo.true_velocity_field(ref, sec, x=ref["x"].values[::10], y=ref["y"].values[::10])
    np.testing.assert_allclose(coarse["vx"], field["vx"].values[::10, ::10], rtol=1e-6)


# --- cache and files ---------------------------------------------------------------------------------------


def test_cache_hit_and_crops_from_cache(tmp_path) -> None:
    scene_id = PAIR[1]
    bbox = (551000.0, 7664000.0, 555000.0, 7670000.0)
    direct = demo.load_scene(scene_id, bbox=bbox, cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # crops are not cached
    start = time.perf_counter()
    full = demo.load_scene(scene_id, cache_dir=tmp_path)
    first = time.perf_counter() - start
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert "seed0" in files[0].name and demo.GENERATOR_VERSION in files[0].name
    assert full.shape == (2000, 3333)
    start = time.perf_counter()
    again = demo.load_scene(scene_id, cache_dir=tmp_path)
    assert time.perf_counter() - start < first / 3
    np.testing.assert_array_equal(full.values, again.values)
    cropped = demo.load_scene(scene_id, bbox=bbox, cache_dir=tmp_path)  # now cut from the cache
    np.testing.assert_array_equal(cropped.values, direct.values)
    np.testing.assert_array_equal(cropped["x"], direct["x"])


def test_cache_dir_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "x"))
    assert demo_render._cache_dir(None) == tmp_path / "x"
    assert demo_render._cache_dir(tmp_path / "y") == tmp_path / "y"
    monkeypatch.delenv("ICETRACK_CACHE")
    assert demo_render._cache_dir(None).parts[-3:] == (".cache", "icetrack", "demo")


def test_write_geotiffs(tmp_path) -> None:
    rasterio = pytest.importorskip("rasterio")
    ids = [PAIR[0], PAIR[1], "LC09_L1TP_008011_20220319_DEMO"]
    paths = demo.write_geotiffs(tmp_path, scene_ids=ids, limit=1)
    assert [p.name for p in paths] == [f"{PAIR[0]}_red.tif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{PAIR[0]}_red.tif"]  # no temp files left
    with rasterio.open(paths[0]) as src:
        assert src.crs.to_epsg() == 32622
        assert src.dtypes == ("float32",)
        assert np.isnan(src.nodata)
        assert (src.width, src.height) == (3333, 2000)
        assert src.transform.a == 30.0 and src.transform.e == -30.0
        assert src.profile["tiled"] and src.profile["compress"] == "deflate"
        tags = src.tags()
        assert tags["TIFFTAG_DATETIME"].startswith("2015:07:21 14:56:")
        assert tags["ACQUISITION_TIME"].startswith("2015-07-21T14:56:")
        assert tags["SENSOR"] == "Landsat 8 OLI"
        assert tags["BAND"] == "red"
        assert tags["SCENE_ID"] == PAIR[0]
        assert float(tags["CLOUD_COVER"]) == 0.0
        window = src.read(1, window=((1000, 1010), (1000, 1010)))
    np.testing.assert_array_equal(window, demo.load_scene(PAIR[0]).values[1000:1010, 1000:1010])


def test_demo_pair_picks_a_clear_same_path_pair() -> None:
    ref_id, sec_id = demo_render._pick_pair("2015-07-15", 16, seed=0)
    frame = demo_catalogue.full_catalog(0)
    a, b = frame.loc[ref_id], frame.loc[sec_id]
    assert a["path"] == b["path"]
    assert a["cloud_cover"] == 0 and b["cloud_cover"] == 0
    assert (b["time"] - a["time"]).days == 16
    assert abs((a["time"] - pd.Timestamp("2015-07-15")).days) < 20
    with pytest.raises(TrackingError):
        demo.load_scene(ref_id, band="nir")
