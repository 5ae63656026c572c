"""The README's client examples, run as written against a live server."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[1]
CAT_CLASSES = {"Egyptian cat", "tabby", "tiger cat", "lynx", "Persian cat"}


def python_blocks(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]


def test_the_v2_and_python_client_examples_run_as_written(live_server, monkeypatch):
    triton, ours = python_blocks("## Standard clients")
    monkeypatch.chdir(ROOT)  # the examples name files in examples/
    host = live_server.url.removeprefix("http://")

    namespace: dict = {}
    exec(triton.replace("127.0.0.1:5000", host), namespace)
    labels = [entry.decode().split(":", 2)[2] for entry in namespace["top3"].ravel()]
    assert len(labels) == 3 and labels[0] in CAT_CLASSES

    namespace = {}
    exec(ours.replace("http://127.0.0.1:5000", live_server.url), namespace)
    assert namespace["result"].best.label in CAT_CLASSES
    assert namespace["digit"] == "7"
