"""What every request shares: settings, the loaded models and the recorder."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from modelport.config import Settings
from modelport.inputs.decode import Limits
from modelport.models.registry import Registry
from modelport.service import Recorder


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    recorder: Recorder

    @property
    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_image_pixels
        )


def runtime() -> Runtime:
    return current_app.extensions["modelport"]
