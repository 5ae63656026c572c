"""The photo model's answers do not move when its serving path is made faster: on the
repository's photos, the same five classes in the same order as the reference made before,
and every score within 1e-3 of it (``benchmarks/photo_scores.py`` prints the figures)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import photo_scores  # noqa: E402


def test_the_photo_models_top_5_match_the_reference():
    reference = json.loads(photo_scores.REFERENCE.read_text())
    assert len(reference) == len(photo_scores.PHOTOS) >= 6
    changed, largest = photo_scores.compare(reference, photo_scores.top5())
    assert changed == []
    assert largest <= photo_scores.TOLERANCE


def test_a_changed_class_or_score_is_noticed():
    reference = json.loads(photo_scores.REFERENCE.read_text())
    photo = next(iter(reference))
    moved = json.loads(json.dumps(reference))
    moved[photo][0][1] += 0.01
    moved[photo][1], moved[photo][2] = moved[photo][2], moved[photo][1]
    changed, largest = photo_scores.compare(reference, moved)
    assert changed == [photo] and largest > photo_scores.TOLERANCE
