"""Does a worker's memory grow with the number of requests? ``modelport serve`` (digits and
the photo model, defaults: every prediction recorded) under the benchmarks' loads at once,
digit drawings at 16 connections and photos at 8, for ``--minutes``; each process's resident
memory is read every ``--every`` seconds.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--every 30]

It prints the samples, then each worker's RSS once warm (after the first minute) and at the
end, and the growth per 100,000 requests between the two.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hello_baseline  # noqa: E402
import serving  # noqa: E402
from load_photo import photo_jpeg  # noqa: E402

WARM_SECONDS = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0)
    options = parser.parse_args()
    seconds = int(options.minutes * 60)
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    server = serving.start("digits,efficientnet-lite0", store, [])
    loads = {
        "digits": (
            "/api/predict",
            hello_baseline.digit_body(),
            "application/json",
            16,
        ),
        "photos": (
            "/api/v1/models/efficientnet-lite0/predict",
            photo_jpeg(),
            "image/jpeg",
            8,
        ),
    }
    results: dict[str, serving.WrkResult] = {}

    def drive(name: str) -> None:
        path, body, kind, connections = loads[name]
        results[name] = serving.wrk(server.url + path, body, kind, connections, seconds, threads=1)

    drivers = [threading.Thread(target=drive, args=(name,)) for name in loads]
    try:
        started = time.monotonic()
        for driver in drivers:
            driver.start()
        samples: list[tuple[float, dict[str, float]]] = []
        while any(driver.is_alive() for driver in drivers):
            samples.append((time.monotonic() - started, server.rss_mb()))
            elapsed, memory = samples[-1]
            shown = ", ".join(f"{k} {v:.0f}" for k, v in memory.items())
            print(f"  {elapsed:6.0f} s  RSS MB: {shown}", flush=True)
            next_sample = started + elapsed + options.every
            for driver in drivers:
                driver.join(timeout=max(0.0, next_sample - time.monotonic()))
    finally:
        server.stop()
    requests = sum(result.requests for result in results.values())
    warm = next((s for s in samples if s[0] >= WARM_SECONDS), samples[0])
    end = samples[-1]
    figures: dict[str, object] = {
        name: f"{r.requests:,} requests, {r.requests_per_s:,.0f}/s, p99 {r.p99_ms} ms, "
        f"{r.errors} errors"
        for name, r in results.items()
    }
    share = (end[0] - warm[0]) / max(end[0], 1.0)  # of the requests, made after warm-up
    for process, rss in end[1].items():
        before = warm[1].get(process, rss)
        per_100k = (rss - before) / max(requests * share / 100_000, 1e-9)
        figures[f"{process} RSS MB"] = (
            f"{before:.0f} at {warm[0]:.0f} s, {rss:.0f} at {end[0]:.0f} s "
            f"({per_100k:+.1f} MB per 100,000 requests)"
        )
    serving.report(f"soak: {options.minutes:g} minutes, digits and photos at once", figures)


if __name__ == "__main__":
    main()
