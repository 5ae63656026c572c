"""gunicorn run in-process, so ``modelport serve`` needs no separate config file.

Each worker builds the app itself (no preload): it loads and warms the models before it
accepts a connection, and a worker that dies is replaced by the master with a fresh load
while the other workers keep serving. ONNX Runtime and the recorder's writer thread are
thereby never carried across a fork.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from modelport import telemetry

log = logging.getLogger(__name__)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (stopped, crashed or killed): drop its live gauges."""
    telemetry.worker_exited(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """The last thing a worker does: store what it still holds, then leave at once.

    A normal interpreter exit runs the C++ static destructors of the native libraries,
    and after a photo prediction one of them threw ``std::system_error`` there: the worker
    died by SIGABRT at every shutdown and the master lingered. Nothing is left for those
    destructors to do that a process exit does not.
    """
    from modelport.store.recorder import flush_all

    flush_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code(sys.exc_info()[1]))


def _exit_code(leaving: BaseException | None) -> int:
    """The code the worker was exiting with (gunicorn's own codes included)."""
    if isinstance(leaving, SystemExit):
        return 0 if leaving.code is None else leaving.code if isinstance(leaving.code, int) else 1
    return 0 if leaving is None else 1


def worker_abort(worker: Any) -> None:
    log.error("worker %s timed out and was aborted; the master starts another", worker.pid)


HOOKS = {"child_exit": child_exit, "worker_exit": worker_exit, "worker_abort": worker_abort}


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
