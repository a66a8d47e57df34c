"""Steps, their matrices and products: the seed's formulas, order of application, and the URL text form."""

import math

import numpy as np
import pytest

from services.affine import (
    PRESETS,
    Rotate,
    Scale,
    Shear,
    StepsFormatError,
    Translate,
    compose,
    format_steps,
    make_step,
    parse_steps,
    step_matrix,
)


def test_each_step_has_the_seed_matrix():
    assert np.allclose(step_matrix(Scale(2.0, 3.0)), [[2, 0, 0], [0, 3, 0], [0, 0, 1]])
    c = s = math.sqrt(0.5)
    assert np.allclose(step_matrix(Rotate(45.0)), [[c, -s, 0], [s, c, 0], [0, 0, 1]])
    assert np.allclose(step_matrix(Shear(0.3, -0.2)), [[1, 0.3, 0], [-0.2, 1, 0], [0, 0, 1]])
    assert np.allclose(step_matrix(Translate(0.5, -1.0)), [[1, 0, 0.5], [0, 1, -1.0], [0, 0, 1]])


def test_quarter_turns_are_exact():
    assert np.array_equal(step_matrix(Rotate(90.0))[:2, :2], [[0, -1], [1, 0]])
    assert np.array_equal(step_matrix(Rotate(-180.0))[:2, :2], [[-1, 0], [0, -1]])
    assert np.array_equal(step_matrix(Rotate(270.0))[:2, :2], [[0, 1], [-1, 0]])
    assert np.allclose(step_matrix(Rotate(90.0 + 1e-9)), step_matrix(Rotate(90.0)))


def test_no_steps_is_the_identity():
    assert np.array_equal(compose([]), np.eye(3))


def test_steps_apply_first_to_last_so_the_product_is_the_seeds_r_s_h():
    shear, scale, rotate = Shear(0.3, 0.1), Scale(1.5, 0.5), Rotate(30.0)
    product = compose([shear, scale, rotate])
    expected = step_matrix(rotate) @ step_matrix(scale) @ step_matrix(shear)
    assert np.allclose(product, expected)
    point = np.array([0.7, -0.2, 1.0])
    one_by_one = step_matrix(rotate) @ (step_matrix(scale) @ (step_matrix(shear) @ point))
    assert np.allclose(product @ point, one_by_one)


def test_order_matters_r_s_h_differs_from_h_s_r():
    shear, scale, rotate = Shear(0.3, 0.0), Scale(1.5, 0.5), Rotate(30.0)
    assert not np.allclose(compose([shear, scale, rotate]), compose([rotate, scale, shear]))


def test_translation_then_rotation_differs_from_rotation_then_translation():
    assert not np.allclose(compose([Translate(1, 0), Rotate(90)]), compose([Rotate(90), Translate(1, 0)]))
    assert np.allclose(compose([Translate(1, 0), Rotate(90)]) @ [0, 0, 1], [0, 1, 1])


def test_format_and_parse_round_trip():
    steps = [Shear(0.2, 0.0), Scale(-1.0, 0.5), Rotate(-12.5), Translate(0.25, 3.0)]
    text = format_steps(steps)
    assert text == "shear:0.2,0;scale:-1,0.5;rotate:-12.5;translate:0.25,3"
    assert parse_steps(text) == steps
    assert parse_steps("") == []
    assert parse_steps(" Rotate : 45 ; ") == [Rotate(45.0)]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("spin:45", "Unknown step"),
        ("rotate:45,2", "needs 1 value"),
        ("scale:1", "needs 2 value"),
        ("scale:a,b", "Not a number"),
        ("rotate:nan", "finite"),
        (";".join(["rotate:1"] * 9), "At most"),
    ],
)
def test_bad_step_text_raises_a_clear_error(text, fragment):
    with pytest.raises(StepsFormatError, match=fragment):
        parse_steps(text)


def test_make_step_defaults_to_the_identity_and_rejects_unknown_kinds():
    for kind in ("scale", "rotate", "shear", "translate"):
        assert np.allclose(step_matrix(make_step(kind)), np.eye(3))
    assert make_step("scale", sx=2) == Scale(2.0, 1.0)
    with pytest.raises(StepsFormatError):
        make_step("warp")


def test_presets_are_the_seeds_examples():
    assert np.allclose(compose(PRESETS["identity"].steps), np.eye(3))
    assert np.allclose(compose(PRESETS["translate"].steps)[:2], [[1, 0, 0.5], [0, 1, 0]])
    assert np.allclose(compose(PRESETS["rotate45"].steps)[:2], [[0.707, -0.707, 0], [0.707, 0.707, 0]], atol=1e-3)
    assert np.linalg.det(compose(PRESETS["flip"].steps)[:2, :2]) < 0
    zoom = compose(PRESETS["zoom"].steps)
    assert zoom[0, 0] < 1 and zoom[1, 1] < 1  # the seed: zooming in needs s < 1
