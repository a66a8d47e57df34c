"""Two-feature classification datasets: scikit-learn tables, synthetic shapes and uploaded CSV files.

Every loader returns a ``Dataset`` whose ``X`` is in the units drawn on the axes, so the page can plot it
as is; scaling for the distance computation happens later, on the training split only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from services import budget
from services.budget import CSV_MAX_COLUMNS
from services.knn.errors import CsvError, DatasetError
from services.text import first_line_fields

#: scikit-learn's bundled tables (offline), by the name the page uses.
TABLE_LOADERS = {
    "iris": sk_datasets.load_iris,
    "wine": sk_datasets.load_wine,
    "breast_cancer": sk_datasets.load_breast_cancer,
}
#: Synthetic generators; ``noise`` is the standard deviation of the Gaussian jitter (it widens the blobs).
SYNTHETIC_KINDS = ("moons", "circles", "blobs", "xor", "spiral")
#: Table views: two original features, or the first two principal components of the standardised table.
VIEWS = ("features", "pca")
#: Seed default features: the iris sepal plane, where versicolor and virginica overlap and K matters.
DEFAULT_FEATURES = {
    "iris": ("sepal length (cm)", "sepal width (cm)"),
    "wine": ("alcohol", "flavanoids"),
    "breast_cancer": ("mean radius", "mean texture"),
}
MIN_SAMPLES, MAX_SAMPLES = 20, 5000
MAX_SYNTHETIC_CLASSES = 5
MAX_CSV_BYTES = budget.KNN_MAX_CSV_BYTES
MAX_CSV_ROWS = budget.KNN_MAX_CSV_ROWS
MIN_CSV_ROWS = 10
MAX_CLASSES = 20


@dataclass(frozen=True)
class Dataset:
    """Points with two features and integer class codes ``0..n_classes-1``."""

    name: str
    X: np.ndarray  # (n, 2) float64, in the units shown on the axes
    y: np.ndarray  # (n,) intp class codes
    class_names: tuple[str, ...]
    feature_names: tuple[str, str]
    note: str = ""  # what was done on the way (projection, dropped rows), for the user

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_samples(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that picks a built-in dataset; plain values, so it can key a cache and a URL."""

    source: str  # a TABLE_LOADERS key or a SYNTHETIC_KINDS entry
    view: str = "features"  # tables only
    features: tuple[str, str] | None = None  # tables with view "features"; None: DEFAULT_FEATURES
    n_samples: int = 300  # synthetic only
    noise: float = 0.2
    n_classes: int = 3  # blobs and spiral
    seed: int = 0


def table_features(source: str) -> tuple[str, ...]:
    """Feature names of a bundled table, in the table's order."""
    return tuple(str(name) for name in _load_table(source).feature_names)


def load_dataset(spec: DatasetSpec) -> Dataset:
    """The dataset a spec describes (tables or synthetic shapes; CSV files go through ``dataset_from_frame``)."""
    if spec.source in TABLE_LOADERS:
        if spec.view == "pca":
            return _table_pca(spec.source)
        if spec.view != "features":
            raise DatasetError(f"Unknown view {spec.view!r}; choose one of {', '.join(VIEWS)}.")
        return _table_features(spec.source, spec.features or DEFAULT_FEATURES[spec.source])
    if spec.source in SYNTHETIC_KINDS:
        return _synthetic(spec)
    known = ", ".join([*TABLE_LOADERS, *SYNTHETIC_KINDS])
    raise DatasetError(f"Unknown dataset {spec.source!r}; choose one of {known}.")


def _load_table(source: str):
    if source not in TABLE_LOADERS:
        raise DatasetError(f"Unknown table {source!r}; choose one of {', '.join(TABLE_LOADERS)}.")
    return TABLE_LOADERS[source]()


def _table_features(source: str, features: tuple[str, str]) -> Dataset:
    bunch = _load_table(source)
    names = [str(name) for name in bunch.feature_names]
    x_name, y_name = features
    for name in features:
        if name not in names:
            raise DatasetError(f"{source} has no feature {name!r}; it has {', '.join(names)}.")
    if x_name == y_name:
        raise DatasetError("Choose two different features for the two axes.")
    columns = [names.index(x_name), names.index(y_name)]
    return Dataset(
        name=source.replace("_", " "),
        X=np.ascontiguousarray(bunch.data[:, columns], dtype=np.float64),
        y=bunch.target.astype(np.intp),
        class_names=tuple(str(name) for name in bunch.target_names),
        feature_names=(x_name, y_name),
    )


def _table_pca(source: str) -> Dataset:
    """All features standardised, projected on their first two principal components (fitted on every sample:
    the projection is unsupervised and only defines which 2-D view we look at)."""
    bunch = _load_table(source)
    standardised = StandardScaler().fit_transform(bunch.data)
    pca = PCA(n_components=2, random_state=0).fit(standardised)
    explained = pca.explained_variance_ratio_
    return Dataset(
        name=f"{source.replace('_', ' ')} (PCA)",
        X=np.ascontiguousarray(pca.transform(standardised), dtype=np.float64),
        y=bunch.target.astype(np.intp),
        class_names=tuple(str(name) for name in bunch.target_names),
        feature_names=(f"PC1 ({explained[0]:.0%} of variance)", f"PC2 ({explained[1]:.0%} of variance)"),
        note=(
            f"2-D PCA of all {bunch.data.shape[1]} standardised features, fitted on every sample; "
            f"the two components keep {explained.sum():.0%} of the variance."
        ),
    )


def _synthetic(spec: DatasetSpec) -> Dataset:
    if not MIN_SAMPLES <= spec.n_samples <= MAX_SAMPLES:
        raise DatasetError(f"Sample count must be between {MIN_SAMPLES} and {MAX_SAMPLES}, not {spec.n_samples}.")
    if not 0.0 <= spec.noise <= 2.0:
        raise DatasetError(f"Noise must be between 0 and 2, not {spec.noise}.")
    n, noise, seed = spec.n_samples, float(spec.noise), int(spec.seed)
    n_classes = 2
    if spec.source == "moons":
        X, y = sk_datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    elif spec.source == "circles":
        X, y = sk_datasets.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    elif spec.source == "blobs":
        n_classes = _synthetic_classes(spec.n_classes)
        X, y = sk_datasets.make_blobs(
            n_samples=n, centers=n_classes, cluster_std=0.5 + 2.5 * noise, random_state=seed
        )
    elif spec.source == "xor":
        X, y = _xor(n, noise, seed)
    else:
        n_classes = _synthetic_classes(spec.n_classes)
        X, y = _spiral(n, n_classes, noise, seed)
    return Dataset(
        name=spec.source,
        X=np.ascontiguousarray(X, dtype=np.float64),
        y=np.asarray(y, dtype=np.intp),
        class_names=tuple(f"class {code}" for code in range(n_classes)),
        feature_names=("x₁", "x₂"),
    )


def _synthetic_classes(n_classes: int) -> int:
    if not 2 <= n_classes <= MAX_SYNTHETIC_CLASSES:
        raise DatasetError(f"Class count must be between 2 and {MAX_SYNTHETIC_CLASSES}, not {n_classes}.")
    return int(n_classes)


def _xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in the square [-1, 1]²; class 1 in the quadrants where the coordinates' signs differ."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.intp)
    return X + rng.normal(0.0, noise, size=X.shape), y


def _spiral(n: int, arms: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms of radius 1, one per class, each turning 1.5 times around the centre."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % arms
    t = np.sqrt(rng.uniform(0.05, 1.0, size=n))  # sqrt: even density along the arm
    angle = 3.0 * np.pi * t + 2.0 * np.pi * y / arms
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    return X + rng.normal(0.0, 0.5 * noise, size=X.shape), y.astype(np.intp)


def read_csv_table(raw: bytes, filename: str = "the file") -> pd.DataFrame:
    """Parse uploaded bytes as a CSV table (comma, semicolon or tab separated), or say why not."""
    if not raw:
        raise CsvError(f"{filename} is empty.")
    if len(raw) > MAX_CSV_BYTES:
        limit = f"{MAX_CSV_BYTES / 2**20:g} MB"
        raise CsvError(f"{filename} is {_size_over(len(raw), MAX_CSV_BYTES)}; the limit is {limit}.")
    if b"\x00" in raw[:4096]:
        raise CsvError(f"{filename} looks like a binary file, not a CSV text table.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if (fields := first_line_fields(text)) > CSV_MAX_COLUMNS:
        raise CsvError(f"{filename} has up to {fields:,} columns in its header line; the limit is "
                       f"{CSV_MAX_COLUMNS:,} (the page uses three).")
    try:
        frame = _parse_csv(text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as error:
        raise CsvError(f"{filename} could not be read as CSV: {error}") from error
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.shape[1] < 3:
        raise CsvError(
            f"{filename} has {frame.shape[1]} column(s); it needs two numeric feature columns and a label column "
            "(separated by commas, semicolons or tabs)."
        )
    if len(frame) < MIN_CSV_ROWS:
        raise CsvError(f"{filename} has {len(frame)} data rows; at least {MIN_CSV_ROWS} are needed.")
    if len(frame) > MAX_CSV_ROWS:
        raise CsvError(f"{filename} has {len(frame):,} rows; the limit is {MAX_CSV_ROWS:,}.")
    if len(set(frame.columns)) != frame.shape[1]:
        raise CsvError(f"{filename} has repeated column names; rename them so each is unique.")
    return frame


def _size_over(size: int, limit: int) -> str:
    """A size over ``limit`` in words that never read as the limit itself: MB to one decimal, or the exact
    byte count when that decimal would round down to the limit."""
    if round(size / 2**20, 1) > limit / 2**20:
        return f"{size / 2**20:.1f} MB"
    return f"{size:,} bytes ({limit:,} bytes is {limit / 2**20:g} MB)"


def _parse_csv(text: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), sep=None, engine="python", skipinitialspace=True)
    except csv.Error:  # the sniffer gave up (one column, or too little text): plain commas
        return pd.read_csv(io.StringIO(text), skipinitialspace=True)


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose every non-missing value is a number or numeric text (good feature candidates). An
    infinite or huge value still counts, so choosing that column gives its own message, not a wrong one."""
    numeric = []
    for column in frame.columns:
        values = frame[column].dropna()
        coerced = pd.to_numeric(values, errors="coerce")
        if len(values) and coerced.notna().all():
            numeric.append(column)
    return numeric


def dataset_from_frame(
    frame: pd.DataFrame,
    x_column: str,
    y_column: str,
    label_column: str,
    *,
    drop_missing: bool = False,
    name: str = "uploaded CSV",
) -> Dataset:
    """Two numeric feature columns and a label column of a table, checked, as a ``Dataset``."""
    for column in (x_column, y_column, label_column):
        if column not in frame.columns:
            raise CsvError(f"There is no column {column!r}; the columns are {', '.join(map(str, frame.columns))}.")
    if x_column == y_column:
        raise CsvError("Choose two different feature columns.")
    if label_column in (x_column, y_column):
        raise CsvError(f"The label column {label_column!r} cannot also be a feature column.")
    features = pd.DataFrame({column: _numeric_column(frame, column) for column in (x_column, y_column)})
    labels = frame[label_column]
    missing = features.isna().any(axis=1) | labels.isna()
    note = ""
    if missing.any():
        count = int(missing.sum())
        if not drop_missing:
            raise CsvError(
                f"{count} of {len(frame)} rows have missing values in {x_column!r}, {y_column!r} or "
                f"{label_column!r}. Tick “drop rows with missing values” to use the other "
                f"{len(frame) - count} rows."
            )
        features, labels = features[~missing], labels[~missing]
        note = f"Dropped {count} of {len(frame)} rows with missing values."
    if len(labels) < MIN_CSV_ROWS:
        raise CsvError(f"Only {len(labels)} complete rows remain; at least {MIN_CSV_ROWS} are needed.")
    codes, classes = pd.factorize(_tidy_labels(labels), sort=True)
    if len(classes) < 2:
        raise CsvError(
            f"The label column {label_column!r} has a single class ({classes[0]!r}); a classifier needs at least two."
        )
    if len(classes) > MAX_CLASSES:
        raise CsvError(
            f"The label column {label_column!r} has {len(classes)} distinct values; choose a column with at most "
            f"{MAX_CLASSES} classes (is it a measurement rather than a label?)."
        )
    return Dataset(
        name=name,
        X=np.ascontiguousarray(features.to_numpy(dtype=np.float64)),
        y=codes.astype(np.intp),
        class_names=tuple(str(value) for value in classes),
        feature_names=(x_column, y_column),
        note=note,
    )


def _numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    coerced = pd.to_numeric(values, errors="coerce").astype(float)
    bad = values.notna() & coerced.isna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise CsvError(
            f"Column {column!r} is not numeric: data row {position + 1} holds {str(values.iloc[position])!r}. "
            "Choose a numeric column as a feature."
        )
    infinite = np.isinf(coerced.to_numpy())
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise CsvError(f"Column {column!r} holds an infinite value in data row {position + 1}.")
    check_feature_range(coerced.to_numpy(), column)
    return coerced


def check_feature_range(values: np.ndarray, name: str) -> None:
    """Refuse feature values a distance cannot square: beyond ``KNN_MAX_ABS_FEATURE`` the squares overflow to
    inf (then NaN), and a non-zero spread below ``KNN_MIN_FEATURE_SPREAD`` underflows to 0 (every cell a tie)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return
    largest = float(np.abs(finite).max())
    if largest > budget.KNN_MAX_ABS_FEATURE:
        raise DatasetError(
            f"{name!r} holds {largest:.3g}; distances square the features, so values must stay within "
            f"±{budget.KNN_MAX_ABS_FEATURE:.0e}. Rescale the column (for example divide it by a power of ten)."
        )
    spread = float(finite.max() - finite.min())
    if 0 < spread < budget.KNN_MIN_FEATURE_SPREAD:
        raise DatasetError(
            f"{name!r} varies by only {spread:.3g}; squared differences that small round to 0, so every "
            f"distance would tie. Rescale the column so it varies by more than {budget.KNN_MIN_FEATURE_SPREAD:.0e}."
        )


def _tidy_labels(labels: pd.Series) -> pd.Series:
    """Labels as text; whole-number floats (``1.0``, common after a NaN forced a float column) print as ``1``."""
    if pd.api.types.is_float_dtype(labels) and np.all(np.mod(labels.to_numpy(), 1) == 0):
        return labels.astype(np.int64)
    return labels
