"""Dataset loaders, CSV checks with clear messages, and the split with scaling fitted on training points."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from services.knn import (
    CsvError,
    Dataset,
    DatasetError,
    DatasetSpec,
    SplitError,
    dataset_from_frame,
    load_dataset,
    make_grid,
    numeric_columns,
    read_csv_table,
    split_dataset,
    table_features,
)
from services.knn.preprocess import grid_resolution


def test_iris_with_any_two_of_four_features():
    assert len(table_features("iris")) == 4
    dataset = load_dataset(DatasetSpec("iris", features=("petal width (cm)", "sepal length (cm)")))
    assert dataset.X.shape == (150, 2) and dataset.n_classes == 3
    assert dataset.feature_names == ("petal width (cm)", "sepal length (cm)")
    assert dataset.X[0].tolist() == [0.2, 5.1]


def test_wine_defaults_and_breast_cancer_pca_is_stated():
    wine = load_dataset(DatasetSpec("wine"))
    assert wine.X.shape == (178, 2) and wine.class_names == ("class_0", "class_1", "class_2")
    cancer = load_dataset(DatasetSpec("breast_cancer", view="pca"))
    assert cancer.X.shape == (569, 2) and cancer.feature_names[0].startswith("PC1")
    assert "PCA of all 30 standardised features" in cancer.note
    np.testing.assert_allclose(cancer.X.mean(axis=0), 0, atol=1e-9)  # centred components


def test_table_errors_are_typed():
    with pytest.raises(DatasetError, match="no feature 'petal size'"):
        load_dataset(DatasetSpec("iris", features=("petal size", "sepal length (cm)")))
    with pytest.raises(DatasetError, match="two different features"):
        load_dataset(DatasetSpec("iris", features=("sepal length (cm)", "sepal length (cm)")))
    with pytest.raises(DatasetError, match="Unknown dataset"):
        load_dataset(DatasetSpec("mnist"))


@pytest.mark.parametrize("kind, classes", [("moons", 2), ("circles", 2), ("blobs", 4), ("xor", 2), ("spiral", 3)])
def test_synthetic_shapes_follow_count_classes_and_seed(kind, classes):
    spec = DatasetSpec(kind, n_samples=200, noise=0.1, n_classes=classes, seed=7)
    dataset = load_dataset(spec)
    assert dataset.X.shape == (200, 2) and dataset.n_classes == classes
    assert set(np.unique(dataset.y)) == set(range(classes))
    np.testing.assert_array_equal(load_dataset(spec).X, dataset.X)  # same seed, same data
    other = load_dataset(DatasetSpec(kind, n_samples=200, noise=0.1, n_classes=classes, seed=8))
    assert not np.array_equal(other.X, dataset.X)


def test_xor_labels_follow_the_quadrants_without_noise():
    dataset = load_dataset(DatasetSpec("xor", n_samples=400, noise=0.0))
    signs_differ = (dataset.X[:, 0] > 0) != (dataset.X[:, 1] > 0)
    np.testing.assert_array_equal(dataset.y, signs_differ.astype(int))


def test_synthetic_bounds_are_checked():
    with pytest.raises(DatasetError, match="between 20 and 5000"):
        load_dataset(DatasetSpec("moons", n_samples=10))
    with pytest.raises(DatasetError, match="Class count"):
        load_dataset(DatasetSpec("blobs", n_classes=9))


GOOD_CSV = b"height,weight,species,note\n" + b"".join(
    f"{150 + i},{50 + (i * 7) % 13},{'a' if i % 2 else 'b'},x{i}\n".encode() for i in range(24)
)


def test_a_good_csv_becomes_a_dataset():
    frame = read_csv_table(GOOD_CSV, "people.csv")
    assert numeric_columns(frame) == ["height", "weight"]
    dataset = dataset_from_frame(frame, "height", "weight", "species", name="people.csv")
    assert dataset.X.shape == (24, 2) and dataset.class_names == ("a", "b")
    assert dataset.y[:2].tolist() == [1, 0]


def test_semicolon_csv_and_whole_number_float_labels():
    rows = [f"{i};{i % 5};{float(i % 3)}" for i in range(12)] + ["12;2;"]
    frame = read_csv_table(("x;y;label\n" + "\n".join(rows)).encode(), "semi.csv")
    dataset = dataset_from_frame(frame, "x", "y", "label", drop_missing=True)
    assert dataset.class_names == ("0", "1", "2")
    assert dataset.note == "Dropped 1 of 13 rows with missing values."


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary file"),
        (b"only\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "needs two numeric feature columns"),
        (b"a,b,c\n1,2,x\n", "at least 10 are needed"),
        (b'a,b,c\n1,2,"unclosed\n' + b"3,4,y\n" * 12, "could not be read as CSV"),
    ],
    ids=["empty", "binary", "one-column", "too-short", "broken-quotes"],
)
def test_unreadable_files_get_a_clear_message(raw, message):
    with pytest.raises(CsvError, match=message):
        read_csv_table(raw, "upload.csv")


def test_column_problems_get_a_clear_message():
    frame = read_csv_table(GOOD_CSV, "people.csv")
    with pytest.raises(CsvError, match="'note' is not numeric: data row 1 holds 'x0'"):
        dataset_from_frame(frame, "height", "note", "species")
    with pytest.raises(CsvError, match="two different feature columns"):
        dataset_from_frame(frame, "height", "height", "species")
    with pytest.raises(CsvError, match="cannot also be a feature"):
        dataset_from_frame(frame, "height", "weight", "weight")
    with pytest.raises(CsvError, match="no column 'age'"):
        dataset_from_frame(frame, "age", "weight", "species")
    with pytest.raises(CsvError, match="single class"):
        dataset_from_frame(frame.assign(species="a"), "height", "weight", "species")
    with pytest.raises(CsvError, match="24 distinct values"):
        dataset_from_frame(frame, "height", "weight", "note")


def test_missing_values_are_refused_then_dropped_on_request():
    frame = read_csv_table(GOOD_CSV, "people.csv")
    frame.loc[3, "weight"] = np.nan
    frame.loc[5, "species"] = np.nan
    with pytest.raises(CsvError, match="2 of 24 rows have missing values.*use the other 22 rows"):
        dataset_from_frame(frame, "height", "weight", "species")
    dataset = dataset_from_frame(frame, "height", "weight", "species", drop_missing=True)
    assert dataset.n_samples == 22 and "Dropped 2 of 24" in dataset.note


def test_infinite_values_are_refused():
    frame = pd.DataFrame({"x": [1.0] * 9 + [np.inf], "y": range(10), "c": [0, 1] * 5})
    with pytest.raises(CsvError, match="infinite value in data row 10"):
        dataset_from_frame(frame, "x", "y", "c")


@pytest.fixture
def blobs() -> Dataset:
    return load_dataset(DatasetSpec("blobs", n_samples=200, n_classes=3, seed=1))


def test_split_is_stratified_and_the_scaler_sees_only_training_points(blobs):
    split = split_dataset(blobs, test_fraction=0.25, seed=0, scaling="standard")
    assert (split.n_train, split.n_test) == (150, 50)
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(split.X_train.std(axis=0), 1, atol=1e-12)
    assert np.abs(split.X_test.mean(axis=0)).max() > 1e-6  # test points are transformed, not refitted
    share_in_test = np.bincount(split.y_test) / split.n_test
    np.testing.assert_allclose(share_in_test, np.bincount(blobs.y) / blobs.n_samples, atol=1 / split.n_test)
    np.testing.assert_array_equal(split.X_test, StandardScaler().fit(split.X_train_raw).transform(split.X_test_raw))
    minmax = split_dataset(blobs, test_fraction=0.25, seed=0, scaling="minmax")
    assert minmax.X_train.min() == 0 and minmax.X_train.max() == 1
    np.testing.assert_array_equal(minmax.X_test, MinMaxScaler().fit(minmax.X_train_raw).transform(minmax.X_test_raw))


def test_added_points_join_the_training_set(blobs):
    split = split_dataset(blobs, test_fraction=0.25, seed=0, scaling="none", added_points=[(1.0, 2.0, 2)])
    assert split.n_train == 151 and split.n_added == 1
    assert split.X_train_raw[-1].tolist() == [1.0, 2.0] and split.y_train[-1] == 2
    with pytest.raises(SplitError, match="class code outside 0..2"):
        split_dataset(blobs, test_fraction=0.25, seed=0, scaling="none", added_points=[(1.0, 2.0, 5)])


def test_split_refuses_bad_fractions_and_single_member_classes(blobs):
    with pytest.raises(SplitError, match="between 0.1 and 0.5"):
        split_dataset(blobs, test_fraction=0.9, seed=0, scaling="none")
    lonely = Dataset("x", np.arange(40, dtype=float).reshape(20, 2), np.array([0] * 19 + [1]), ("a", "b"), ("p", "q"))
    with pytest.raises(SplitError, match="Class 'b' has 1 point"):
        split_dataset(lonely, test_fraction=0.3, seed=0, scaling="none")


def test_grid_covers_the_data_and_shrinks_for_deep_tables(blobs):
    split = split_dataset(blobs, test_fraction=0.25, seed=0, scaling="standard")
    grid = make_grid(split, 50)
    assert grid.points_raw.shape == (2500, 2) and grid.shape == (50, 50)
    assert grid.xs[0] < blobs.X[:, 0].min() and grid.ys[-1] > blobs.X[:, 1].max()
    assert grid.points_raw[51].tolist() == [grid.xs[1], grid.ys[1]]  # cell i*side+j sits at (xs[j], ys[i])
    np.testing.assert_array_equal(grid.points, StandardScaler().fit(split.X_train_raw).transform(grid.points_raw))
    assert grid_resolution(300, 16, 2) == 300
    assert grid_resolution(300, 4096, 3) < 60
