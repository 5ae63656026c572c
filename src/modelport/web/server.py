"""gunicorn run in-process, so ``modelport serve`` needs no separate config file.

Each worker builds the app itself (no preload): it loads and warms the models before it
accepts a connection, and a worker that dies is replaced by the master with a fresh load
while the other workers keep serving. ONNX Runtime and the recorder's writer thread are
thereby never carried across a fork.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
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
WATCH_SECONDS = 1.0


class StoreWatcher:
    """Reloads the server when the model store changes (a model added, replaced or removed).

    A thread in the master compares the store's fingerprint every ``interval`` seconds and,
    once a change has held still for one more look (so a folder still being copied is not
    loaded half-way), sends the master SIGHUP: gunicorn's graceful reload starts workers
    that load the new set of models and lets the old ones finish what they are serving.
    """

    def __init__(self, fingerprint: Callable[[], tuple], interval: float = WATCH_SECONDS):
        self.fingerprint = fingerprint
        self.interval = interval
        self._stop = threading.Event()

    def start(self, server: Any = None) -> None:
        threading.Thread(target=self._run, name="modelport-store-watcher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        served = self.fingerprint()
        seen = served
        while not self._stop.wait(self.interval):
            try:
                current = self.fingerprint()
            except OSError:
                log.exception("could not look at the model store")
                continue
            if current != served and current == seen:
                log.info("the model store changed: reloading the workers")
                served = current
                os.kill(os.getpid(), signal.SIGHUP)
            seen = current


class GunicornServer(BaseApplication):
    def __init__(
        self, options: dict[str, Any], app_factory=None, watcher: StoreWatcher | None = None
    ) -> None:
        self.options = options
        self.app_factory = app_factory
        self.watcher = watcher
        super().__init__()

    def load_config(self) -> None:
        hooks = dict(HOOKS)
        if self.watcher is not None:
            hooks["when_ready"] = self.watcher.start
        for key, value in (hooks | self.options).items():
            self.cfg.set(key, value)

    def load(self):
        if self.app_factory is not None:
            return self.app_factory()
        from modelport.app import create_app

        return create_app()
