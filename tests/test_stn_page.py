"""The spatial-transformer page in AppTest: settings, bad settings, a short training run, the stop button, the
shared cache, and the looking-inside panels."""

import pytest

from tests.conftest import page_test

#: Small enough for a test: about 900 training images, a few seconds an epoch.
QUICK = {"stn_copies": 1, "stn_test": 0.5}


def _page(**state):
    at = page_test("spatial_transformer", timeout=240)
    for key, value in {**QUICK, **state}.items():
        at.session_state[key] = value
    return at.run()


def _texts(at, kind: str) -> str:
    return " ".join(element.value for element in getattr(at, kind))


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def test_default_view_shows_samples_and_offers_training(no_exceptions):
    at = page_test("spatial_transformer", timeout=240).run()
    no_exceptions(at)
    assert "Spatial transformer, live" in at.title[0].value
    assert "Not trained yet with these settings: 8 epochs of 2,876 images" in _texts(at, "info")
    assert at.button(key="stn_train").label == "Train both models"
    assert "The data" in [h.value for h in at.subheader]
    assert not at.error
    assert dict(at.query_params) == {}


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ({"stn_epochs": 0}, "at least 1 epoch"),
        ({"stn_test": 0.0}, "at least one digit on each side"),
        ({"stn_scale": (0.2, 2.0)}, "scale range"),
        ({"stn_shift": 0.8}, "leaves the canvas"),
    ],
)
def test_bad_settings_get_a_clear_message(state, words, no_exceptions):
    at = _page(**state)
    no_exceptions(at)
    assert words in _texts(at, "error")
    assert not [b for b in at.button if b.key == "stn_train"]


def test_short_run_trains_live_then_is_shared(no_exceptions):
    at = _page(stn_epochs=2)
    at.button(key="stn_train").click().run()
    no_exceptions(at)
    assert "Epoch 1 of 2 done" in _texts(at, "info")
    assert at.button(key="stn_stop").label.startswith("Stop training")
    at.run()  # the fragment's timer: the next epoch
    no_exceptions(at)
    assert "Trained: 2 epochs" in _texts(at, "success")
    assert "reproduces the transformer's `grid_sample` output for all 898 test digits" in _texts(at, "success")
    headers = [h.value for h in at.subheader]
    for title in ("Distorted test digits → the transformer's output", "One digit's learned θ",
                  "Does it undo the rotation?", "Confusion matrices (test set)"):
        assert title in headers
    assert at.query_params["epochs"] in ("2", ["2"]) and at.query_params["copies"] in ("1", ["1"])
    at.slider(key="stn_digit").set_value(5).run()
    no_exceptions(at)
    assert at.query_params["digit"] in ("5", ["5"])

    second_viewer = _page(stn_epochs=2)  # a new session: the pair is cached on the server
    no_exceptions(second_viewer)
    assert "Trained: 2 epochs" in _texts(second_viewer, "success")
    assert second_viewer.button(key="stn_train").label == "Train again"


def test_stop_keeps_the_partial_model_and_says_so(no_exceptions):
    at = _page(stn_epochs=3, stn_seed=7)
    at.button(key="stn_train").click().run()
    assert "Epoch 1 of 3 done" in _texts(at, "info")
    at.button(key="stn_stop").click().run()
    no_exceptions(at)
    assert "Stopped after 1 of 3 epochs" in _texts(at, "warning")
    assert "The partial pair, after 1 epochs." in _texts(at, "caption")
    assert "Looking inside" in [h.value for h in at.header]
    assert not [b for b in at.button if b.key == "stn_stop"]


def test_a_run_waits_for_a_free_training_slot_then_goes_on(no_exceptions):
    """Trainings run in the viewers' own script threads, so the page caps how many train at once (one slot
    per epoch): with every slot taken by other viewers an epoch waits and says so, and starts once one frees."""
    from components.heavy import TRAINING_SLOT_COUNT, TRAINING_SLOTS

    at = _page(stn_epochs=2, stn_seed=3)
    taken = [TRAINING_SLOTS.acquire(blocking=False) for _ in range(TRAINING_SLOT_COUNT)]
    try:
        assert all(taken)
        at.button(key="stn_train").click().run()
        no_exceptions(at)
        assert "Waiting for a free training slot" in _texts(at, "info")
        assert "Epoch 1 of 2 done" not in _texts(at, "info")
    finally:
        for _ in taken:
            TRAINING_SLOTS.release()
    at.run()  # the fragment's timer
    no_exceptions(at)
    assert "Epoch 1 of 2 done" in _texts(at, "info")
    assert "Waiting for a free training slot" not in _texts(at, "info")


@pytest.mark.parametrize("raw", ["0.1,5", "0.9", "abc", "1.5,0.5"])
def test_a_hand_edited_scale_range_falls_back_with_a_warning(raw, no_exceptions):
    at = page_test("spatial_transformer", timeout=240)
    at.query_params["scale"] = raw
    at.run()
    no_exceptions(at)
    if raw != "abc":  # unreadable values fall back silently in url_state
        assert "not two sizes between 0.2 and 2.0" in _texts(at, "warning")
    assert at.slider(key="stn_scale").value == (0.7, 1.2)
