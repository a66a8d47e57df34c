"""The resource budget of one request, stated in one place.

The dashboard is one process shared by everyone who opens the link, so every input a visitor controls (an
upload, a URL parameter, a typed value) is checked against these numbers *before* the work starts, and a
request over budget gets a message and a smaller default instead of a stall. The README's "Limits" table is
written from this module. Each page's services import their limits from here; keep each section to the
page it serves.
"""

from __future__ import annotations

MIB = 2**20

# --- every page -------------------------------------------------------------------------------------------
#: Peak memory one upload or link may add to the server (the hostile-input suite asserts it).
REQUEST_PEAK_BYTES = 1536 * MIB
#: Time from a hostile input to the message that refuses it (the hostile-input suite asserts it).
REQUEST_SECONDS_TO_MESSAGE = 5.0
#: Longest a visitor waits for one heavy job (a CAM pass, a CV curve) in the shared pool before a message.
HEAVY_WORK_DEADLINE_S = 90.0

# --- images (services.imaging; the Grad-CAM and affine pages) ---------------------------------------------

# --- map (services.geo) -----------------------------------------------------------------------------------

# --- KNN (services.knn) -----------------------------------------------------------------------------------

# --- Grad-CAM (services.cam) ------------------------------------------------------------------------------

# --- affine (services.affine) -----------------------------------------------------------------------------
