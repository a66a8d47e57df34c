"""Figures that do not depend on what a viewer just changed are built once and shared by every session."""

import streamlit as st

from services.affine import figures
from tests.conftest import page_test


def test_the_bilinear_figure_is_built_once_while_the_steps_change(monkeypatch, no_exceptions):
    built: list[tuple[float, float]] = []
    original = figures.bilinear_figure

    def counting(window, ex):
        built.append((ex.x, ex.y))
        return original(window, ex)

    monkeypatch.setattr(figures, "bilinear_figure", counting)
    st.cache_resource.clear()  # what earlier tests in this process left in the shared cache
    first = page_test("affine_playground", timeout=180).run()
    first.slider(key="affine_step2_rotate_degrees").set_value(45.0).run()
    second = page_test("affine_playground", timeout=180).run()  # another viewer of the same picture
    no_exceptions(first)
    no_exceptions(second)
    first.number_input(key="affine_bx").set_value(10.5).run()  # the panel's own input: a new figure
    no_exceptions(first)
    assert built.count(built[0]) == 1  # one build for the seed location, whatever M and whichever session
    assert built[-1][0] == 10.5 and len(built) == 2
