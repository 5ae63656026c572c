"""The photo classifier's page: upload, preview, top classes as bars (issue #3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("photo", __name__)
