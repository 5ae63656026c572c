"""The base install: ``pip install modelport`` with no extras into a fresh venv, then
``modelport serve`` until ``/readyz`` says every built-in model is ready.

    .venv/bin/python benchmarks/base_install.py [--source DIR] [--keep DIR]

Prints the venv's size, the seconds ``pip install`` took, the seconds from ``modelport
serve`` started to ready, and from the start of ``pip install`` to ready. The source is
this checkout's files as git sees them (tracked and new, not ignored), copied to a temp
folder so the build leaves nothing in the checkout; pip uses the machine's usual cache
and indexes. tests/test_base_install.py runs the same steps and checks each one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = ("digits", "digits-knn", "efficientnet-lite0")
PIP_TIMEOUT_S = 900
READY_TIMEOUT_S = 180


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    log: Path
    seconds_to_ready: float
    ready: dict = field(default_factory=dict)


def python3() -> str:
    """The interpreter to make the venv with: ``python3`` on PATH, as a user would."""
    return shutil.which("python3") or sys.executable


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would leak its venv or settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MODELPORT_")
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PROMETHEUS_MULTIPROC_DIR")
    }
    return env | extra


def checkout_copy(source: Path, target: Path) -> Path:
    """``source``'s files as a fresh checkout would have them (plus new, unignored ones)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        origin = source / name
        if origin.is_file():  # a tracked file deleted in the working tree is gone
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / name)
    return target


def make_venv(venv: Path) -> None:
    subprocess.run([python3(), "-m", "venv", str(venv)], check=True, env=clean_env())


def pip_install(venv: Path, source: Path) -> float:
    """``pip install --quiet SOURCE`` (no extras, not editable); the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,  # pip's warnings about the machine's indexes are noise here
        text=True,
        env=clean_env(),
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def imports(venv: Path, module: str) -> bool:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}"],
        capture_output=True,
        env=clean_env(),
        check=False,
    )
    return done.returncode == 0


def size_mb(path: Path) -> float:
    """Disk usage as ``du`` counts it, in MB."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def serve(venv: Path, instance: Path) -> Served:
    """``<venv>/bin/modelport serve --port P`` with default settings, its instance folder
    in ``instance``; returns once ``/readyz`` answers 200."""
    instance.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = instance / "server.log"
    env = clean_env(
        MODELPORT_INSTANCE_PATH=str(instance),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    command = [str(venv / "bin" / "modelport"), "serve", "--port", str(port)]
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=instance
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"modelport serve exited {process.returncode}:\n{log.read_text()}")
        try:
            status, body = get_json(url + "/readyz")
        except (OSError, ValueError):
            status, body = 0, {}
        if status == 200:
            return Served(url, process, log, time.perf_counter() - started, body)
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"not ready within {READY_TIMEOUT_S} s:\n{log.read_text()}")


def classify(url: str, model: str, photo: Path, top_k: int = 3) -> dict:
    """POST ``photo`` as the multipart ``file`` to the model's versioned route."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{photo.name}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}/api/v1/models/{model}/predict?top_k={top_k}",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def stop(served: Served, timeout: float = 30) -> int:
    """SIGTERM, as an operator stops it; its exit code."""
    served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="a checkout of Modelport")
    parser.add_argument("--keep", type=Path, help="work here and keep the venv (default: temp)")
    options = parser.parse_args()
    work = options.keep or Path(tempfile.mkdtemp(prefix="modelport-base-install-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = checkout_copy(options.source.resolve(), work / "source")
        venv = work / "venv"
        started = time.perf_counter()
        make_venv(venv)
        venv_seconds = time.perf_counter() - started
        pip_seconds = pip_install(venv, source)
        served = serve(venv, work / "instance")
        total = time.perf_counter() - started
        cat = classify(served.url, "efficientnet-lite0", ROOT / "examples" / "cat.jpg")
        code = stop(served)
        figures = {
            "venv size MB": round(size_mb(venv)),
            "torch importable": imports(venv, "torch"),
            "python3 -m venv s": round(venv_seconds, 1),
            "pip install s": round(pip_seconds, 1),
            "serve start to ready s": round(served.seconds_to_ready, 1),
            "venv + pip install + serve to ready s": round(total, 1),
            "models ready": served.ready.get("models"),
            "examples/cat.jpg": [p["label"] for p in cat["predictions"]],
            "serve exit code after SIGTERM": code,
        }
        for key, value in figures.items():
            print(f"{key:40} {value}")
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
