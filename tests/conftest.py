"""Shared fixtures: a real app, its test client and CLI runner, a live server, a real browser."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, checked_page
from click.testing import CliRunner
from PIL import Image, ImageDraw

from modelport.app import create_app
from modelport.config import Settings

SKETCH_MODELS = ("digits", "digits-knn")


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> Path:
    """One model store for the whole run, so models are trained or exported once."""
    return tmp_path_factory.mktemp("model-store")


@pytest.fixture(scope="session")
def sketch_settings(tmp_path_factory, model_store) -> Settings:
    return Settings.from_env(
        {},
        instance_path=tmp_path_factory.mktemp("instance"),
        model_store=model_store,
        models=SKETCH_MODELS,
    )


def make_app(
    instance_path: Path,
    model_store: Path | None,
    models: tuple[str, ...],
    environ: dict[str, str] | None = None,
    **settings,
):
    """A real app of its own: its instance folder, ``models`` from ``model_store`` (the
    instance's own store when None), ``MODELPORT_*`` values from ``environ`` only."""
    app = create_app(
        Settings.from_env(
            environ or {},
            instance_path=instance_path,
            model_store=model_store,
            models=models,
            **settings,
        )
    )
    # Test clients post forms without a page's CSRF token; tests/test_web_hardening.py turns
    # the check on, and the live server (browser tests) always has it.
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app


@pytest.fixture(scope="session")
def app(sketch_settings):
    app = create_app(sketch_settings)
    # Test clients post forms without a page's CSRF token; tests/test_web_hardening.py turns
    # the check on, and the live server (browser tests) always has it.
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    instance_path: Path


def start_server(
    instance_path: Path,
    model_store: Path,
    models: tuple[str, ...],
    extra_env=None,
    args=(),
    port: int | None = None,
) -> LiveServer:
    """``modelport serve`` as a user starts it, on a free port, ready when it answers."""
    port = port or free_port()
    env = os.environ | {
        "MODELPORT_INSTANCE_PATH": str(instance_path),
        "MODELPORT_MODEL_STORE": str(model_store),
        "MODELPORT_MODELS": ",".join(models),
    }
    env |= extra_env or {}
    command = [sys.executable, "-m", "modelport", "serve", "--port", str(port), *args]
    log = open(instance_path / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(instance_path / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/v1/models", timeout=2) as response:
                if response.status == 200:
                    return LiveServer(url, process, instance_path)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {(instance_path / 'server.log').read_text()}")


def stop_server(server: LiveServer) -> None:
    """Stop it as an operator would (SIGTERM), and check that it went cleanly."""
    server.process.terminate()
    try:
        code = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise AssertionError("the server did not stop within 30 s of SIGTERM") from None
    log = (server.instance_path / "server.log").read_text(errors="replace")
    assert "SIGABRT" not in log and "terminate called" not in log, "a worker aborted"
    assert code == 0, f"the server exited with {code}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, model_store) -> Iterator[LiveServer]:
    """The real server (gunicorn) with every built-in model, for browser and HTTP tests."""
    server = start_server(
        tmp_path_factory.mktemp("live-instance"),
        model_store,
        ("digits", "digits-knn", "efficientnet-lite0"),
        args=("--workers", "2", "--threads", "4"),
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on any console error or uncaught exception."""
    yield from checked_page(browser.new_context(viewport={"width": 1280, "height": 900}))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def drawn_one(size=(280, 280), background=(0, 0, 0, 0), ink=(0, 0, 0, 255), width=18) -> bytes:
    """A '1' drawn as a browser canvas would: by default black ink on a transparent canvas."""
    image = Image.new("RGBA", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    x = w * 0.55  # the glyph keeps its shape whatever the canvas's aspect
    stroke = [(x - h * 0.07, h * 0.27), (x, h * 0.18), (x, h * 0.82)]
    draw.line(stroke, fill=ink, width=width)
    return png_bytes(image)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG file that claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + width // 8) * 64, 9)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# Who is asking (web/auth.py): tokens and people made as an operator makes them ------------


def cli(instance_path: Path, *args: str, stdin: str | None = None) -> str:
    """``modelport ARGS`` against an instance (its database), as an operator runs it."""
    env = os.environ | {"MODELPORT_INSTANCE_PATH": str(instance_path)}
    done = subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def cli_token(instance_path: Path, role: str, name: str | None = None) -> str:
    """A new API token from ``modelport tokens create`` (its last line)."""
    extra = ("--name", name) if name else ()
    return cli(instance_path, "tokens", "create", "--role", role, *extra).splitlines()[-1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""


class AuthActions:
    """Like flaskr's: tokens and people for an app's own database, and signing in."""

    PASSWORD = "correct horse battery"

    def __init__(self, app) -> None:
        self.app = app
        self._tokens: dict[str, str] = {}

    @property
    def store(self):
        return self.app.extensions["modelport_store"]

    def token(self, role: str = "teacher") -> str:
        from modelport.store import people

        if role not in self._tokens:
            self._tokens[role] = people.create_token(self.store, role, f"test-{role}")[1]
        return self._tokens[role]

    def headers(self, role: str = "teacher") -> dict[str, str]:
        """``Authorization`` for a teacher's or operator's token (made once per role)."""
        return bearer(self.token(role))

    def user(self, name: str, role: str = "teacher", password: str = PASSWORD) -> str:
        from modelport.store import people

        people.create_user(self.store, name, role, password)
        return name

    def login(self, client, name: str, password: str = PASSWORD):
        page = client.get("/auth/login")
        return client.post(
            "/auth/login",
            data={"name": name, "password": password, "csrf_token": csrf_token(page.text)},
        )

    def logout(self, client):
        page = client.get("/")
        return client.post("/auth/logout", data={"csrf_token": csrf_token(page.text)})


@pytest.fixture
def auth(app) -> AuthActions:
    return AuthActions(app)
