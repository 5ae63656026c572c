"""What every request shares: settings, the loaded models, the recorder and what the
models learned."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from modelport.config import Settings
from modelport.inputs.decode import Limits
from modelport.models.registry import Registry
from modelport.service import Recorder
from modelport.store.corrections_feed import CorrectionsFeed


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    recorder: Recorder
    learning: CorrectionsFeed | None = field(default=None)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_image_pixels
        )


def runtime() -> Runtime:
    return current_app.extensions["modelport"]
