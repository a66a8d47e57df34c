"""Affine maps for images: compose and decompose 2-D affine matrices and warp pictures with four samplers.

Public API (see each module for the conventions):

* steps: ``Scale``, ``Rotate``, ``Shear``, ``Translate``, ``compose(steps)``, ``format_steps``/``parse_steps``,
  ``PRESETS``;
* matrices: ``decompose``, ``determinant``, ``area_change``, ``inverse``, ``apply_to_point``, ``to_theta``,
  ``pixel_matrix``, ``reference_shapes``/``transform_shapes``, ``interpolate``, ``latex_matrix``;
* options: ``SamplerOptions`` (interpolation, padding, engine, frame, mapping), the page's cache key;
* sampling: ``sampling_grid(theta, height, width)``, ``warp(image, theta, options, **changes)``,
  ``compare_engines``, ``grid_lines``, ``forward_splat``;
* bilinear: ``explain_bilinear``, ``pixel_window``;
* render: ``render_warp`` (the page's slider-to-image path), ``animation_frames``, ``matrix_report``.
"""

from services.affine.bilinear import SEED_LOCATION, BilinearExplanation, explain_bilinear, pixel_window
from services.affine.errors import AffineError, SingularMatrixError, StepsFormatError, UnsupportedCombinationError
from services.affine.matrices import (
    FRAMES,
    MAPPINGS,
    AreaChange,
    Decomposition,
    Frame,
    Mapping,
    apply_to_point,
    apply_to_points,
    area_change,
    decompose,
    determinant,
    frame_matrix,
    interpolate,
    inverse,
    is_singular,
    latex_matrix,
    matrix_from_entries,
    pixel_matrix,
    reference_shapes,
    to_theta,
    transform_shapes,
)
from services.affine.options import (
    DEFAULT_OPTIONS,
    ENGINES,
    INTERPOLATIONS,
    PADDINGS,
    Engine,
    Interpolation,
    Padding,
    SamplerOptions,
)
from services.affine.render import (
    AnimationFrame,
    WarpView,
    animation_frames,
    matrix_report,
    render_warp,
    thumbnail,
    to_uint8,
    to_unit_float,
)
from services.affine.sampling import (
    EngineCheck,
    SplatResult,
    compare_engines,
    forward_splat,
    grid_lines,
    normalised_to_pixels,
    sampling_grid,
    warp,
)
from services.affine.steps import (
    MAX_STEPS,
    PRESETS,
    STEP_TYPES,
    Preset,
    Rotate,
    Scale,
    Shear,
    Step,
    Translate,
    compose,
    format_steps,
    make_step,
    parse_steps,
    step_matrix,
    step_values,
)
