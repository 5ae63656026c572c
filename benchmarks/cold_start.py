"""Cold start: from ``modelport serve`` launched to every worker answering ``/readyz``
with 200 (models loaded and warmed), with the artifacts already in the store; and the
memory of the master and of each worker once ready.

    .venv/bin/python benchmarks/cold_start.py [--models digits,digits-knn,efficientnet-lite0]
        [--store DIR] [--runs 3] [--serve-args "--workers 2"]

Target: under 5 s.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="digits,digits-knn,efficientnet-lite0")
    parser.add_argument("--store", type=Path, default=Path("instance/models"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve-args", default="", help="extra options for modelport serve")
    options = parser.parse_args()
    first, every, memory = [], [], {}
    for _ in range(options.runs):
        server = serving.start(
            options.models, options.store.resolve(), shlex.split(options.serve_args)
        )
        first.append(server.first_ready)
        every.append(server.all_ready)
        memory = server.rss_mb()
        server.stop()
    serving.report(
        f"cold start of modelport serve, models {options.models}, {options.runs} runs",
        {
            "first worker ready s (each run)": [round(t, 2) for t in first],
            "every worker ready s (each run)": [round(t, 2) for t in every],
            "every worker ready s (median)": round(statistics.median(every), 2),
            "RSS MB once ready (last run)": {k: round(v) for k, v in memory.items()},
            "load average (1, 5, 15 min)": serving.load_average(),
        },
    )


if __name__ == "__main__":
    main()
