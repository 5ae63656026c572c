"""The floor of the stack, to read the other figures against on a shared machine: a
Flask "hello" that only parses the same JSON body as ``load_digits.py`` and answers
"7", on gunicorn's gthread workers, one per core with 2 threads and 8 connections each
(gthread's best here: with one thread its 4 connections a worker queue 16 clients for
seconds). ``--app lean`` instead runs the digit path and nothing else (decode, preprocess,
CNN on ONNX Runtime, with Modelport's own functions and bundled model; no recording,
logging, metrics or input checks): what ``load_digits.py`` would reach if everything
Modelport adds around the model cost nothing.

    .venv/bin/python benchmarks/hello_baseline.py [--app hello|lean] [--connections 16]
        [--seconds 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402
from load_digits import canvas_png  # noqa: E402

from modelport.cli.serve import default_workers  # noqa: E402

THREADS = 2
CONNECTIONS_PER_THREAD = 4

APPS = {
    "hello": """
from flask import Flask, request
app = Flask(__name__)

@app.post("/api/predict")
def predict():
    body = request.get_json(force=True)
    return "7" if body.get("image") else "?"
""",
    "lean": """
import base64
import tempfile
from pathlib import Path
from flask import Flask, request
from modelport.inputs.decode import open_image
from modelport.models.registry import load_one
model = load_one(Path(tempfile.mkdtemp()), "digits")  # empty: the bundled model
app = Flask(__name__)

@app.post("/api/predict")
def predict():
    body = request.get_json(force=True)
    image = open_image(base64.b64decode(body["image"].split(",", 1)[1]))
    return str(int(model.predict(model.prepare(image)[None])[0].argmax()))
""",
}
TITLES = {
    "hello": "Flask hello parsing the same JSON",
    "lean": "the bare digit path (decode, preprocess, CNN) in Flask",
}


def digit_body() -> bytes:
    return json.dumps(
        {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()}
    ).encode()


def run(app: str, connections: int, seconds: int) -> tuple[serving.WrkResult, str]:
    """wrk against the ``app`` on gunicorn gthread; its result and a title saying what
    ran."""
    body = digit_body()
    folder = Path(serving.tempfile.mkdtemp(prefix="modelport-hello-"))
    (folder / "bench_app.py").write_text(APPS[app])
    port = serving.free_port()
    workers, threads = default_workers(), THREADS
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    command += ["--threads", str(threads), "-k", "gthread", "--chdir", str(folder), "bench_app:app"]
    command += ["--worker-connections", str(threads * CONNECTIONS_PER_THREAD)]
    url = f"http://127.0.0.1:{port}/api/predict"
    result, _ = serving.drive_command(command, url, body, connections, seconds)
    title = f"{TITLES[app]}, gunicorn {workers}x{threads} gthread, {connections} connections"
    return result, title


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    options = parser.parse_args()
    result, title = run(options.app, options.connections, options.seconds)
    serving.report(
        f"{title}, {options.seconds} s",
        {
            "requests/s": round(result.requests_per_s),
            "p50 ms": result.p50_ms,
            "p99 ms": result.p99_ms,
            "errors": result.errors,
            "load average (1, 5, 15 min)": serving.load_average(),
        },
    )


if __name__ == "__main__":
    main()
