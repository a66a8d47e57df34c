"""A spatial transformer trained live on distorted digits, next to the same CNN without it.

Public API:

* settings: ``DigitSettings``, ``StnSettings`` (frozen, hashable: the cache keys), ``DISTORTIONS``;
* data: ``make_digits(settings) -> DistortedDigits`` (``.train`` / ``.test`` ``DigitSet``), ``distortion_theta``;
* models: ``SmallCnn``, ``SpatialTransformerCnn``, ``Localisation``, ``transform``, ``build_pair``;
* training: ``Training`` (``.epochs()`` yields an ``EpochReport`` per epoch, ``.result(stopped=)`` ->
  ``TrainedPair``), ``train``, ``torch_threads``;
* analysis: ``analyse(pair, digits) -> StnAnalysis``, ``theta_view``, ``sampler_check``, ``confusion_matrix``;
* figures: ``services.stn.figures``;
* errors: ``StnError(ValueError)`` -> ``DistortionRangeError``, ``SplitError``, ``TrainingSettingsError``.
"""

from services.stn.analysis import (
    SAMPLER_TOLERANCE,
    AngleRelation,
    SamplerCheck,
    StnAnalysis,
    ThetaView,
    analyse,
    angle_relation,
    confusion_matrix,
    sampler_check,
    theta_view,
)
from services.stn.data import DigitSet, DistortedDigits, distortion_theta, make_digits
from services.stn.errors import (
    DistortionRangeError,
    SplitError,
    StnError,
    TrainingSettingsError,
)
from services.stn.models import (
    Localisation,
    SmallCnn,
    SpatialTransformerCnn,
    build_pair,
    transform,
)
from services.stn.settings import DISTORTIONS, DigitSettings, StnSettings
from services.stn.training import (
    EpochReport,
    EpochSnapshot,
    TrainedPair,
    Training,
    torch_threads,
    train,
)
