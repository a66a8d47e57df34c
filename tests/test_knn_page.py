"""The KNN page in AppTest: K, dataset, CSV upload, URL state, the best-K button, explain and add points."""

import pytest

from tests.conftest import page_test

GOOD_CSV = b"length,width,kind\n" + b"".join(
    f"{1 + (i % 7) * 0.5 + i * 0.01:.2f},{2 + (i % 5) * 0.3:.2f},{'big' if i % 7 > 3 else 'small'}\n".encode()
    for i in range(60)
)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _text(at) -> str:
    return " ".join([*(c.value for c in at.caption), *(m.value for m in at.markdown)])


@pytest.fixture
def page(no_exceptions):
    at = page_test("knn_boundaries", timeout=120).run()
    no_exceptions(at)
    return at


def test_default_view_shows_the_seeds_iris_at_k7(page):
    assert "KNN decision boundaries" in page.title[0].value
    assert page.slider(key="knn_k").value == 7
    assert _metric(page, "Training / test points") == "100 / 50"
    assert _metric(page, "Test accuracy").endswith("%")
    assert "one query at 16 neighbours serves every K ≤ 15" in _text(page)
    assert [b.label for b in page.get("download_button")][:2] == ["Download interactive HTML", "Download data (CSV)"]
    assert not page.error


def test_moving_k_redraws_and_lands_in_the_url(page, no_exceptions):
    before = _metric(page, "Tied grid cells")
    page.slider(key="knn_k").set_value(15).run()
    no_exceptions(page)
    assert page.query_params["k"] in ("15", ["15"])
    assert _metric(page, "Tied grid cells") != before
    page.slider(key="knn_k").set_value(40).run()  # past the first table: a deeper query
    no_exceptions(page)
    assert "one query at 64 neighbours" in _text(page)


def test_switching_to_a_synthetic_dataset(page, no_exceptions):
    page.selectbox(key="knn_data").set_value("moons").run()
    no_exceptions(page)
    assert _metric(page, "Training / test points") == "201 / 99"
    for scaling in ("standard", "minmax"):
        page.radio(key="knn_scale").set_value(scaling).run()
        no_exceptions(page)
    page.slider(key="knn_n").set_value(500).run()
    no_exceptions(page)
    assert _metric(page, "Training / test points") == "335 / 165"
    assert page.query_params["data"] in ("moons", ["moons"])


def test_k_beyond_the_training_points_is_refused_with_a_message(no_exceptions):
    at = page_test("knn_boundaries", timeout=120)
    at.query_params["k"] = "500"
    at.run()
    no_exceptions(at)
    assert "K = 500 is more than the 100 training points" in at.warning[0].value
    assert at.slider(key="knn_k").value == 100


def test_best_k_button_applies_the_cross_validated_k(page, no_exceptions):
    button = next(b for b in page.button if b.label.startswith("Use K = "))
    best = int(button.label.removeprefix("Use K = "))
    assert best == int(_metric(page, "Best K"))
    button.click().run()
    no_exceptions(page)
    assert page.slider(key="knn_k").value == best


def test_explain_a_point_and_add_one(page, no_exceptions):
    page.toggle(key="knn_explain").set_value(True).run()
    no_exceptions(page)
    assert len(page.dataframe[0].value) == 7  # the 7 neighbours
    assert "The 7 nearest training points vote" in _text(page)
    next(b for b in page.button if b.label.startswith("Add a training point")).click().run()
    no_exceptions(page)
    assert _metric(page, "Training / test points") == "101 / 50"


def test_csv_upload_good_then_bad(page, no_exceptions):
    page.selectbox(key="knn_data").set_value("csv").run()
    no_exceptions(page)
    assert "Upload a CSV file" in page.info[0].value
    page.file_uploader(key="knn_csv_file").upload("shapes.csv", GOOD_CSV, "text/csv").run()
    no_exceptions(page)
    assert page.selectbox(key="knn_csv_label").value == "kind"
    assert _metric(page, "Training / test points") == "40 / 20"
    page.selectbox(key="knn_csv_y").set_value("kind").run()
    no_exceptions(page)
    assert "cannot also be a feature" in page.error[0].value
    page.file_uploader(key="knn_csv_file").clear().upload("broken.csv", b"\x00\x01binary", "text/csv").run()
    no_exceptions(page)
    assert "binary file" in page.error[0].value


def test_csv_with_missing_values_asks_before_dropping(page, no_exceptions):
    page.selectbox(key="knn_data").set_value("csv").run()
    holes = GOOD_CSV.replace(b"1.51,2.30", b"1.51,")
    page.file_uploader(key="knn_csv_file").upload("holes.csv", holes, "text/csv").run()
    no_exceptions(page)
    assert "1 of 60 rows have missing values" in page.error[0].value
    page.checkbox(key="knn_csv_dropna").check().run()
    no_exceptions(page)
    assert not page.error
    assert "Dropped 1 of 60 rows" in _text(page)


def test_sweep_tree_forest_and_from_scratch_panels(page, no_exceptions):
    page.toggle(key="knn_sweep_on").set_value(True).run()
    no_exceptions(page)
    charts = page.get("plotly_chart")
    assert any('"frames"' in chart.proto.spec and '"name":"49"' in chart.proto.spec for chart in charts)
    page.slider(key="knn_tree_depth").set_value(3).run()
    page.toggle(key="knn_compare_on").set_value(True).run()
    no_exceptions(page)
    assert "Decision tree (depth ≤ 3)" in _text(page) and "Random forest (100 trees" in _text(page)
    page.toggle(key="knn_scratch_on").set_value(True).run()
    no_exceptions(page)
    assert _metric(page, "…away from ties") == "0"
    assert "The from-scratch KNN equals scikit-learn" in page.success[0].value


def test_a_link_shared_before_the_key_prefix_still_restores(no_exceptions):
    # Session keys became knn_*; the URL names did not change, so links shared earlier keep their view.
    at = page_test("knn_boundaries", timeout=120)
    for name, value in {"data": "moons", "k": "11", "scale": "standard", "weights": "distance", "n": "400"}.items():
        at.query_params[name] = value
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="knn_data").value == "moons"
    assert at.slider(key="knn_k").value == 11
    assert at.radio(key="knn_scale").value == "standard"
    assert at.radio(key="knn_weights").value == "distance"
    assert _metric(at, "Training / test points") == "268 / 132"
    user_keys = [key for key in at.session_state._state.filtered_state if not key.startswith("$$")]
    assert user_keys and all(key.startswith("knn_") for key in user_keys), user_keys
