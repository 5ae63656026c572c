"""Feedback as a plain HTML form, for pages that work without JavaScript.

``POST /predictions/<id>/feedback`` takes ``correct`` ("yes" or "no"), ``label`` (the right
answer when it is "no") and ``next`` (the page to go back to), with the page's CSRF token.
The answer is judged exactly as the JSON API judges it (``history.give_feedback``): who may answer
which prediction, its labels, one trusted answer, what the model learns. It is thanked for
with a flashed message on the page it came from; a refusal is a friendly 4xx page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, url_for

from modelport.inputs import InputError
from modelport.web.auth import local_path
from modelport.web.history import give_feedback
from modelport.web.limits import limited

bp = Blueprint("feedback_forms", __name__)

ANSWERS = {"yes", "no"}


@bp.post("/predictions/<prediction_id>/feedback")
@limited("feedback")
def submit(prediction_id: str):
    correct, label = _answer_in_form()
    answer = give_feedback(prediction_id, label if correct == "no" else None)
    flash(thanks(answer), "success")
    return redirect(_back())


def _answer_in_form() -> tuple[str, str]:
    correct = request.form.get("correct", "").strip().lower()
    if correct not in ANSWERS:
        raise InputError("invalid_correct", "Say whether the answer is right (yes or no).", 400)
    label = request.form.get("label", "").strip()
    if correct == "no" and not label:
        raise InputError("missing_label", "Choose the right answer, then send it.", 400)
    return correct, label


def thanks(answer: dict) -> str:
    """What feedback.js says once an answer is sent, in the same words."""
    if answer["is_correct"]:
        return "Thanks: marked right."
    if answer["learned"]:
        return f"Thanks: recorded as {answer['label']}. The model has learned it."
    if answer["suggestion"]:
        return (
            f"Thanks: recorded as {answer['label']}. "
            "It is a suggestion until an operator reviews it."
        )
    return f"Thanks: recorded as {answer['label']}."


def _back() -> str:
    """``next`` if it is a path on this site, else the page the form was on, else history."""
    target = local_path(request.form.get("next"))
    if target:
        return target
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return local_path(referrer.path) or "/"
    return url_for("history.history_page")
