"""Models: arrays in, probabilities out. No Flask here."""

from modelport.models.base import Model, Prediction, UnknownModel

__all__ = ["Model", "Prediction", "UnknownModel"]
