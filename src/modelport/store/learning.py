"""Feeding corrections back to the models.

A model that can learn on the spot (``digits-knn``) is taught a corrected drawing at once
(``corrections_feed``); every trusted correction of a sketch model (a teacher's or
operator's, or a visitor's an operator accepted) is also training data for
``modelport train digits --with-feedback``.
"""

from __future__ import annotations

import logging

import numpy as np
from sqlalchemy import select

from modelport.inputs import InputError, sketch
from modelport.inputs.decode import Limits, open_image
from modelport.store.db import Store
from modelport.store.tables import TRUSTED_STATUSES, FeedbackRow, PredictionRow

log = logging.getLogger(__name__)

SKETCH_MODELS = ("digits", "digits-knn")


def corrected_drawings(
    store: Store,
    models: tuple[str, ...] = SKETCH_MODELS,
    include_confirmed: bool = False,
    limits: Limits | None = None,
    trusted_only: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The drawings people corrected, as MNIST-style 28x28 float32 images and int64 labels.

    ``include_confirmed`` adds the drawings people marked right. Only trusted answers count
    unless ``trusted_only`` is off: visitors' suggestions wait for an operator's review.
    Drawings that can no longer be read (or whose label is not a digit) are skipped, with a
    log line.
    """
    limits = limits or Limits()
    query = (
        select(PredictionRow.id, PredictionRow.input_image, FeedbackRow.label)
        .join(FeedbackRow, FeedbackRow.prediction_id == PredictionRow.id)
        .where(PredictionRow.model.in_(models), PredictionRow.input_kind == "sketch")
        .order_by(PredictionRow.created_at)
    )
    if not include_confirmed:
        query = query.where(FeedbackRow.is_correct.is_(False))
    if trusted_only:
        query = query.where(FeedbackRow.status.in_(TRUSTED_STATUSES))
    images, labels = [], []
    with store.session() as session:
        for prediction_id, drawing, label in session.execute(query):
            if not label.isdigit():
                continue
            try:
                image = open_image(drawing, limits)
                images.append(sketch.to_mnist(sketch.ink_from_image(image)))
            except InputError as exc:
                log.warning("skipping drawing %s: %s", prediction_id, exc.detail)
                continue
            labels.append(int(label))
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros((0,), np.int64)
    return np.stack(images).astype(np.float32), np.asarray(labels, np.int64)
