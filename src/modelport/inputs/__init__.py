"""Turning what arrives (bytes, data URIs) into arrays a model takes. No Flask here."""

from modelport.inputs.errors import InputError

__all__ = ["InputError"]
