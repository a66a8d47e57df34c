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
#: Fields in the header line of an uploaded CSV table (map and KNN), counted on the raw text before pandas
#: builds one column per field: a 17 MB header of 2,000,000 columns took 2.4 GB and 109 s (KNN), 4.8 GB and
#: 144 s (map). The pages need two or three columns; real exports have tens.
CSV_MAX_COLUMNS = 1_000
#: Longest a visitor waits for one heavy job (a CAM pass, a CV curve) in the shared pool before a message.
HEAVY_WORK_DEADLINE_S = 90.0

# --- images (services.imaging; the Grad-CAM and affine pages) ---------------------------------------------
#: Largest upload (the uploader's own cap, .streamlit/config.toml server.maxUploadSize, is the same 25 MB).
IMAGE_UPLOAD_BYTES = 25 * MIB
#: Declared pixel count above which a file is refused before decoding (a 100-megapixel photo still passes).
IMAGE_MAX_PIXELS = 120_000_000
#: Memory that decoding and normalising one picture may take at its declared size (JPEG: after reduced-scale
#: decoding): an RGB PNG up to about 67 MP, RGBA up to 33 MP. A 51-byte GIF can declare 65535 x 1800 pixels;
#: this refuses it before a byte is decoded.
IMAGE_DECODE_BYTES = 256 * MIB
#: Longest side of the working copy; larger pictures are shrunk (while 8-bit) and the user told so.
IMAGE_DEFAULT_MAX_SIDE = 1024
#: Smallest side any page can do something useful with.
IMAGE_MIN_SIDE = 8

# --- map (services.geo) -----------------------------------------------------------------------------------
#: Rows of an uploaded CSV table of places or query points.
GEO_MAX_UPLOAD_ROWS = 2_000_000
#: Bytes of an uploaded GeoJSON file: json.loads builds ~10-20x the file size in Python objects, so 32 MiB
#: (about 200,000 verbose Point features) stays inside REQUEST_PEAK_BYTES.
GEOJSON_MAX_BYTES = 32 * MIB
#: Coordinate positions in one GeoJSON upload (checked on the raw bytes before parsing: each position is
#: one "[", so a file with fewer brackets cannot hold more).
GEOJSON_MAX_POSITIONS = 1_000_000
#: Nesting depth of a GeoJSON document ("[" and "{" levels): real point files need 6, Python's parser
#: would recurse past its stack on 100,000.
GEOJSON_MAX_DEPTH = 64
#: Result rows of one batch join (query x neighbour), and of one on the page (it also builds a table,
#: a map sample and a CSV download from them).
JOIN_MAX_ROWS = 10_000_000
JOIN_PAGE_MAX_ROWS = 1_000_000
#: Rows the batch join works on at a time (bounded memory for a million queries).
JOIN_CHUNK_ROWS = 2_000_000
#: Query points sampled to estimate the size of a radius join before running it.
JOIN_ESTIMATE_SAMPLE = 2_000
#: Longest a visitor waits for a batch join on the page (it runs on the heavy-work pool) before a message.
JOIN_DEADLINE_S = 120.0

# --- KNN (services.knn) -----------------------------------------------------------------------------------
#: An uploaded CSV table: bytes and data rows.
KNN_MAX_CSV_BYTES = 20 * MIB
KNN_MAX_CSV_ROWS = 20_000
#: Memory of one neighbour table with its running votes; beyond it the grid is made coarser.
KNN_MAX_TABLE_BYTES = 256 * MIB
#: Feature values a distance can square without overflowing (1e154² is past float64's 1.8e308), and the
#: smallest non-zero spread whose squared differences do not underflow to 0 (every distance would be a tie).
KNN_MAX_ABS_FEATURE = 1e150
KNN_MIN_FEATURE_SPREAD = 1e-150
#: Distance evaluations one request may cost (measured: ~30 ns each inside a KD-tree query, so under a
#: second on one core). A KD-tree query reads every one of a crowd of coincident points, so tie-heavy data is
#: sized down against this before the work starts.
KNN_MAX_DISTANCE_EVALUATIONS = 20_000_000
#: Distances the from-scratch check may compute (one numpy pass and sort per point: ~110 ns per training point
#: measured, so about half a second); beyond it the points it compares are sampled evenly.
KNN_MAX_SCRATCH_DISTANCES = 5_000_000

# --- Grad-CAM (services.cam) ------------------------------------------------------------------------------
#: A weights file (upload or server folder): float32 ResNet-18/34/50 are 44.7/83.3/97.8 MiB.
CAM_WEIGHTS_MAX_FILE_BYTES = 256 * MIB
#: What its zip archive may inflate to, checked from the archive's directory before ``torch.load`` (a 3.1 MB
#: file of deflated zeros inflated to 4.25 GB); torch.save itself never compresses, so this is the file size.
CAM_WEIGHTS_MAX_INFLATED_BYTES = 256 * MIB
#: Entries in that archive (ResNet-50 has 322: one per tensor plus a few records).
CAM_WEIGHTS_MAX_ENTRIES = 10_000

# --- affine (services.affine) -----------------------------------------------------------------------------
#: Longest side of the affine page's working picture (its slider-to-image target is set for 1024 x 1024).
AFFINE_MAX_SIDE = 1024
#: Largest |entry| of a typed matrix, a URL entry or the point K (beyond it nothing of the picture is visible).
AFFINE_MATRIX_ENTRY_LIMIT = 1e6

# --- spatial transformer (services.stn) -------------------------------------------------------------------
#: Longest training one request may ask for (a CPU epoch of the default data takes a few seconds).
STN_MAX_EPOCHS = 40
#: Distorted copies of each training digit; 1,437 training digits x 6 = 8,622 images.
STN_MAX_COPIES = 6
#: Clutter fragments per image.
STN_MAX_CLUTTER = 8
STN_BATCH_RANGE = (8, 512)
STN_LEARNING_RATE_RANGE = (1e-5, 0.05)
