"""The teaching pages: ``/teach`` lists the taught models and names a new one (a plain form
that works without JavaScript); ``/teach/<name>`` is the editor, where teach.js gives each
class its photos, trains, and tries the model through the JSON API (``teach_api``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from modelport import teaching
from modelport.inputs import InputError
from modelport.store import taught as taught_store
from modelport.store.db import Store
from modelport.web.auth import current_caller
from modelport.web.runtime import runtime
from modelport.web.teach_api import (
    check_teacher,
    detail,
    may_teach,
    serve_changes_now,
    summary,
)

bp = Blueprint("teach_pages", __name__)


def _store() -> Store:
    return current_app.extensions["modelport_store"]


def _summaries() -> list[dict]:
    return [summary(taught) for taught in taught_store.everything(_store())]


def _render_list(status: int = 200, error: str | None = None, name: str = "") -> tuple[str, int]:
    page = render_template(
        "teach.html",
        models=_summaries(),
        may_teach=may_teach(),
        error=error,
        name=name,
    )
    return page, status


@bp.get("/teach")
def teach_page():
    return _render_list()


@bp.post("/teach")
def create_model():
    """The form's name becomes a new taught model, and its editor opens; a name that cannot
    be used comes back on the same page with the reason."""
    check_teacher()
    name = request.form.get("name", "")
    try:
        made = teaching.create(_store(), runtime().registry, name, current_caller().label)
    except InputError as exc:
        return _render_list(exc.status, error=exc.detail, name=name.strip())
    serve_changes_now()
    return redirect(url_for("teach_pages.editor", name=made), 303)


@bp.get("/teach/<name>")
def editor(name: str):
    taught = teaching.existing(_store(), name)
    return render_template("teach_model.html", model=detail(taught), may_teach=may_teach())
