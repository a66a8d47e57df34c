"""The page's three questions and its results table."""

import numpy as np
import pandas as pd
import pytest

from services.geo.index import PointIndex
from services.geo.search import MODES, TABLE_COLUMNS, results_table, search

PLACES = pd.DataFrame({
    "name": ["Paris", "Versailles", "Saint-Denis", "Lyon", "London"],
    "country": ["France", "France", "France", "France", "United Kingdom"],
    "population": [2_138_551, 85_416, 111_135, 522_969, 8_961_989],
    "lat": [48.85341, 48.80359, 48.93564, 45.74846, 51.50853],
    "lon": [2.3488, 2.13424, 2.35387, 4.84671, -0.12574],
})


@pytest.fixture(scope="module")
def index():
    return PointIndex(PLACES["lat"], PLACES["lon"])


def test_modes(index):
    assert list(MODES) == ["nearest", "radius", "both"]
    nearest = search(index, 48.8566, 2.3522, "nearest", 3, 20.0)
    assert PLACES["name"].iloc[nearest["idx"]].tolist() == ["Paris", "Saint-Denis", "Versailles"]
    within = search(index, 48.8566, 2.3522, "radius", 3, 12.0)
    assert PLACES["name"].iloc[within["idx"]].tolist() == ["Paris", "Saint-Denis"]
    both = search(index, 48.8566, 2.3522, "both", 1, 12.0)
    assert PLACES["name"].iloc[both["idx"]].tolist() == ["Paris"]
    assert search(index, 48.8566, 2.3522, "both", 5, 500.0)["idx"].tolist() == within_all(index, 500.0)


def within_all(index, radius):
    return index.within(48.8566, 2.3522, radius)["idx"].tolist()


def test_both_is_the_nearest_cut_at_the_radius(index):
    rng = np.random.default_rng(0)
    for lat, lon, k, radius in zip(rng.uniform(40, 55, 50), rng.uniform(-5, 10, 50), rng.integers(1, 6, 50),
                                   rng.uniform(1, 800, 50)):
        both = search(index, lat, lon, "both", int(k), radius)
        expected = index.within(lat, lon, radius).head(int(k))
        assert both["idx"].tolist() == expected["idx"].tolist()
        assert both.index.tolist() == list(range(len(both)))


def test_bad_mode_and_radius(index):
    with pytest.raises(ValueError, match="unknown search mode"):
        search(index, 0.0, 0.0, "closest", 3, 10.0)
    with pytest.raises(ValueError, match="radius"):
        search(index, 0.0, 0.0, "both", 3, float("nan"))
    with pytest.raises(ValueError, match="k must be"):
        search(index, 0.0, 0.0, "nearest", 0, 10.0)


def test_results_table(index):
    hits = search(index, 51.5, 0.0, "nearest", 2, 0.0)
    table = results_table(PLACES, hits)
    assert list(table.columns) == TABLE_COLUMNS
    assert table["rank"].tolist() == [1, 2]
    assert table["name"].tolist() == ["London", "Saint-Denis"]
    assert table["distance_km"].tolist() == hits["distance_km"].tolist()
    assert table["country"].iloc[0] == "United Kingdom" and table["population"].iloc[0] == 8_961_989
    empty = results_table(PLACES, index.within(0.0, 0.0, 1.0))
    assert empty.empty and list(empty.columns) == TABLE_COLUMNS
