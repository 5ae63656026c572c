"""Prediction history, corrections and model cards (issue #4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("history", __name__)
