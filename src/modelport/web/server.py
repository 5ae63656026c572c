"""gunicorn run in-process, so ``modelport serve`` needs no separate config file.

Each worker builds the app itself (no preload): it loads and warms the models before it
accepts a connection, and a worker that dies is replaced by the master with a fresh load
while the other workers keep serving. ONNX Runtime and the recorder's writer thread are
thereby never carried across a fork.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from modelport import telemetry

log = logging.getLogger(__name__)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (stopped, crashed or killed): drop its live gauges."""
    telemetry.worker_exited(worker.pid)


def worker_abort(worker: Any) -> None:
    log.error("worker %s timed out and was aborted; the master starts another", worker.pid)


HOOKS = {"child_exit": child_exit, "worker_abort": worker_abort}


class GunicornServer(BaseApplication):
    def __init__(self, options: dict[str, Any], app_factory=None) -> None:
        self.options = options
        self.app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in (HOOKS | self.options).items():
            self.cfg.set(key, value)

    def load(self):
        if self.app_factory is not None:
            return self.app_factory()
        from modelport.app import create_app

        return create_app()
