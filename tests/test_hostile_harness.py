"""The hostile-input harness itself: it sees memory and exceptions, so its numbers can be trusted."""

from services.budget import REQUEST_PEAK_BYTES
from tests.hostile import measure


def test_the_harness_sees_a_large_allocation_and_a_small_one():
    import numpy as np

    held = np.ones(600 * 2**20, dtype=np.uint8)  # a big parent, as in the full suite: its peak must not leak in
    big = measure("import numpy as np", "a = np.ones(400 * 2**20, dtype=np.uint8)")
    small = measure("import numpy as np", "a = np.ones(1000, dtype=np.uint8)")
    del held
    assert big.outcome == small.outcome == "ok"
    assert big.extra_bytes > 350 * 2**20 > 20 * 2**20 > small.extra_bytes
    assert small.extra_bytes < REQUEST_PEAK_BYTES


def test_the_harness_times_cpu_work_not_waiting():
    idle = measure("import time", "time.sleep(1.0)")
    busy = measure("import time", "end = time.process_time() + 0.5\nwhile time.process_time() < end:\n    pass")
    assert idle.wall_seconds >= 1.0 > 0.3 > idle.seconds
    assert busy.seconds >= 0.5


def test_the_harness_reports_the_exception_type_and_message():
    cost = measure("from services.imaging import ImageInputError, load_image", "load_image(b'not an image')")
    from services.imaging import ImageInputError

    assert cost.raised(ImageInputError) and "image" in cost.outcome.lower()


def test_a_traceback_never_reaches_the_browser_with_server_paths():
    """Issue 13: every traceback showed server paths. The served config shows only an uncaught exception's type
    (Streamlit's "type": no message, no stack trace); the server log keeps the rest."""
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] in ("type", "none")
