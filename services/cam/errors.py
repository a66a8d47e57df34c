"""Typed errors of the CAM service; every message is written for the person using the page."""


class CamError(ValueError):
    """Base class: the request cannot be served as asked; the message says why and what to do."""


class UnknownModelError(CamError):
    pass


class WeightsUnavailableError(CamError):
    """Pretrained weights are neither cached locally nor downloadable (typically: offline)."""


class WeightsFileError(CamError):
    """A user-provided weights file is unreadable, unsafe, or belongs to another architecture."""


class UnknownLayerError(CamError):
    pass


class UnknownMethodError(CamError):
    pass


class TargetClassError(CamError):
    pass


class ExplainOptionError(CamError):
    """An option is out of range (input size, batch size, channel fraction...)."""
