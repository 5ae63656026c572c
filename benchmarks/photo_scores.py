"""The photo model's top 5 on the repository's photos, against the reference kept in
``tests/data/photo_top5.json`` (made before the serving path was sped up): the same classes
in the same order, and by how much at most a score moved (the bar is 1e-3).

    .venv/bin/python benchmarks/photo_scores.py            # compare
    .venv/bin/python benchmarks/photo_scores.py --write    # make the reference again

Each photo goes through the served path's own steps: decode (EXIF turn, JPEG draft),
prepare, ONNX Runtime and the top 5.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from modelport.inputs.decode import Limits
from modelport.models.registry import load_one

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "photo_top5.json"
PHOTOS = [
    ROOT / "examples" / "cat.jpg",
    *sorted((ROOT / "src" / "modelport" / "web" / "static" / "examples" / "photos").glob("*.jpg")),
]
TOLERANCE = 1e-3


def top5() -> dict[str, list[list]]:
    """Each photo's five best classes and scores, by the photo's path in the repository."""
    model = load_one(Path(tempfile.mkdtemp(prefix="modelport-store-")), "efficientnet-lite0")
    found = {}
    for path in PHOTOS:
        sample = model.prepare(model.decode(path.read_bytes(), Limits()))
        best = model.top(model.predict(sample[None])[0], 5)
        found[str(path.relative_to(ROOT))] = [[p.label, p.score] for p in best]
    return found


def compare(reference: dict, found: dict) -> tuple[list[str], float]:
    """The photos whose top 5 classes differ, and the largest score difference."""
    changed, largest = [], 0.0
    for photo, expected in reference.items():
        got = found[photo]
        if [label for label, _ in got] != [label for label, _ in expected]:
            changed.append(photo)
        for (_, score), (_, was) in zip(got, expected, strict=True):
            largest = max(largest, abs(score - was))
    return changed, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="make the reference again")
    options = parser.parse_args()
    found = top5()
    if options.write:
        lines = [f"  {json.dumps(photo)}: {json.dumps(best)}" for photo, best in found.items()]
        REFERENCE.write_text("{\n" + ",\n".join(lines) + "\n}\n")
        print(f"wrote {REFERENCE.relative_to(ROOT)} ({len(found)} photos)")
        return
    changed, largest = compare(json.loads(REFERENCE.read_text()), found)
    print(f"photos: {len(found)}")
    print(f"top 5 classes changed: {len(changed)} {changed}")
    print(f"largest score difference: {largest:.2e} (bar: {TOLERANCE:g})")


if __name__ == "__main__":
    main()
