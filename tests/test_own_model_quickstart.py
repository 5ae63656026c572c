"""The README's "Serve your own model": train, add, predict, exactly as written there."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import make_app

from modelport.cli import main

ROOT = Path(__file__).parents[1]


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Serve your own model", 1)[1].split("\n## ", 1)[0]


def test_the_readme_commands_take_a_trained_model_to_its_page_and_api(tmp_path):
    section = readme_section()
    assert ".venv/bin/python examples/train_iris.py" in section
    assert ".venv/bin/modelport add iris.skops" in section
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_iris.py")], cwd=tmp_path, check=True
    )
    instance = tmp_path / "instance"
    env = {"MODELPORT_INSTANCE_PATH": str(instance)}
    added = CliRunner().invoke(main, ["add", str(tmp_path / "iris.skops")], env=env)
    assert added.exit_code == 0, added.output
    assert "/models/iris" in added.output

    client = make_app(instance, None, ("iris",)).test_client()
    assert client.get("/models/iris").status_code == 200
    body = json.loads(re.search(r"-d '(\{.*\})'", section).group(1))
    answer = client.post("/api/v1/models/iris/predict", json=body).get_json()
    assert answer["model"] == "iris"
    assert answer["predictions"][0]["label"] == "setosa"
