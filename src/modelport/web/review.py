"""What models learn from feedback, and the operators' review of visitors' suggestions.

A model that learns on the spot (digits-knn) is taught only trusted corrections by
default (``MODELPORT_LEARN_FROM=trusted``): a teacher's or operator's, or a visitor's once
an operator accepts it at ``/review`` (or ``POST /api/v1/predictions/<id>/feedback/accept``).
``everyone`` teaches every correction at once (a demo's choice), ``nobody`` none. A
prediction teaches a model once per label however often it is corrected (the feedback
keeps what was learned), so repeating a correction adds nothing.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from modelport import teaching
from modelport.inputs import InputError
from modelport.store import Store, learned
from modelport.store import queries as q
from modelport.store.people import OPERATOR
from modelport.store.tables import TRUSTED_STATUSES, FeedbackRow, PredictionRow
from modelport.store.taught_feed import taught_model
from modelport.web.auth import current_caller, requires
from modelport.web.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__)

REVIEW_PAGE_SIZE = 50


def _store() -> Store:
    return current_app.extensions["modelport_store"]


def may_learn(feedback: FeedbackRow) -> bool:
    """Whether a model may learn this answer on the spot, by ``MODELPORT_LEARN_FROM``."""
    policy = runtime().settings.learn_from
    if policy == "nobody" or feedback.is_correct or feedback.status == "rejected":
        return False
    return policy == "everyone" or feedback.status in TRUSTED_STATUSES


def teach(prediction: PredictionRow, feedback: FeedbackRow) -> bool:
    """Teach the prediction's model its correction if allowed and not learned already.

    What a model learned is kept in the database, which every worker and replica follows;
    this worker catches up at once. Learning is a bonus: the feedback is stored even if
    the model cannot learn from it.
    """
    feed = runtime().learning
    if feed is None or not may_learn(feedback) or feedback.learned_label == feedback.label:
        return False
    stored = q.input_image(_store(), prediction.id)
    if stored is None:
        return False
    if taught_model(runtime().registry, prediction.model) is not None:
        if not _add_as_example(prediction, feedback, stored[0]):
            return False
    elif not feed.learns(prediction.model) or feed.prepare(prediction.model, stored[0]) is None:
        return False
    learned.mark_learned(_store(), prediction.id, feedback.label)
    feed.try_sync()
    return True


def _add_as_example(prediction: PredictionRow, feedback: FeedbackRow, picture: bytes) -> bool:
    """A taught model's corrected answer: the picture joins the right class's examples."""
    try:
        return teaching.learn_correction(
            _store(),
            runtime().registry,
            prediction.model,
            picture,
            feedback.label,
            runtime().limits,
            prediction.id,
            feedback.given_by,
        )
    except InputError as exc:  # the stored picture cannot be read, or the model is full
        log.warning("%s could not learn from %s: %s", prediction.model, prediction.id, exc)
        return False


def feedback_json(prediction: PredictionRow, feedback: FeedbackRow, learned: bool) -> dict:
    """What the feedback API answers: whether the model ``learned`` it, or whether it is a
    ``suggestion`` awaiting an operator's review (``status`` says which review state)."""
    return {
        "id": prediction.id,
        "model": prediction.model,
        "predicted": prediction.label,
        "label": feedback.label,
        "is_correct": feedback.is_correct,
        "learned": learned,
        "suggestion": feedback.status == "suggested",
        "status": feedback.status,
    }


def decide(prediction_id: str, accept: bool) -> dict:
    """An operator accepts (and the model learns) or rejects a visitor's answer."""
    prediction = q.get_prediction(_store(), prediction_id)
    if prediction is None or prediction.feedback is None:
        raise InputError(
            "unknown_feedback", f"There is no feedback on prediction {prediction_id!r}.", 404
        )
    feedback = q.review_feedback(_store(), prediction_id, accept, current_caller().label)
    learned = teach(prediction, feedback) if accept else False
    log.info(
        "%s %s feedback on %s",
        current_caller().label,
        "accepted" if accept else "rejected",
        prediction_id,
    )
    return feedback_json(prediction, feedback, learned)


@bp.post("/api/v1/predictions/<prediction_id>/feedback/accept")
@requires(OPERATOR)
def accept_feedback(prediction_id: str):
    return jsonify(decide(prediction_id, accept=True))


@bp.post("/api/v1/predictions/<prediction_id>/feedback/reject")
@requires(OPERATOR)
def reject_feedback(prediction_id: str):
    return jsonify(decide(prediction_id, accept=False))


@bp.get("/review")
@requires(OPERATOR)
def review_page():
    waiting = q.suggestions(_store(), limit=REVIEW_PAGE_SIZE)
    return render_template(
        "review.html",
        waiting=waiting,
        items=[q.prediction_json(row) for row in waiting.rows],
        learn_from=runtime().settings.learn_from,
    )


@bp.post("/review/<prediction_id>")
@requires(OPERATOR)
def review_one(prediction_id: str):
    """The review page's Accept and Reject buttons (a form: no JavaScript needed)."""
    decision = request.form.get("decision")
    if decision not in {"accept", "reject"}:
        raise InputError("invalid_decision", "Say accept or reject.", 400)
    answer = decide(prediction_id, accept=decision == "accept")
    if decision == "reject":
        flash(f"Rejected: {answer['label']} for prediction {prediction_id}.", "secondary")
    elif answer["learned"]:
        flash(f"Accepted: {answer['model']} has learned {answer['label']}.", "success")
    else:
        flash(f"Accepted: {answer['label']} for prediction {prediction_id}.", "success")
    return redirect(url_for("review.review_page"))
