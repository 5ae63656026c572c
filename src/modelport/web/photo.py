"""The photo classifier's page and its chart endpoints.

``/photo`` works with JavaScript off: the form POSTs the file and the answer is the same
page with the photo and the top classes filled in. With JavaScript on, ``photo.js``
sends the file to the JSON API instead and fills in the same markup, so both paths show
exactly the same thing. The example photos under the form post their name without
JavaScript; with it, each is sent as the file itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path, PurePath

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from modelport.inputs import InputError
from modelport.inputs.decode import open_photo, sniff_format
from modelport.inputs.photo import thumbnail_jpeg
from modelport.models.base import Model, UnknownModel
from modelport.service import PredictionResult, predict_bytes
from modelport.web.auth import visitor_owner
from modelport.web.chart import MAX_BARS, render_bar_chart
from modelport.web.limits import limited
from modelport.web.request_input import image_from_request, top_k_option
from modelport.web.runtime import runtime

bp = Blueprint("photo", __name__)

TOP_K = 5
SHOWN_SIZE = (640, 640)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".dib"}
ACCEPT = "image/png,image/jpeg,image/webp,image/gif,image/bmp," + ",".join(sorted(IMAGE_SUFFIXES))
EXAMPLES_FOLDER = "examples/photos"  # under static/; made by scripts/make_example_photos.py


@dataclass(frozen=True)
class ExamplePhoto:
    file: str
    title: str
    label: str  # the ImageNet class it shows: offered only to models that have this class
    credit: str = ""  # who to name (CC BY); the CC0 photos need nobody named


EXAMPLE_PHOTOS = (
    ExamplePhoto("cat.jpg", "a cat", "Egyptian cat"),
    ExamplePhoto("coffee.jpg", "a cup of coffee", "espresso"),
    ExamplePhoto("palace.jpg", "a Chinese palace", "palace", "danielbuechele, CC BY 2.0"),
    ExamplePhoto("daisy.jpg", "a daisy", "daisy", "vultilion, CC BY 2.0"),
    ExamplePhoto("tripod.jpg", "a photographer with a camera on a tripod", "tripod"),
)


def _photo_model() -> Model:
    return runtime().registry.default_for("photo")


def _render(status: int = 200, **context) -> tuple[str, int]:
    try:
        model = _photo_model()
    except UnknownModel:
        model = None
        failures = runtime().registry.failures
        context["error"] = "The photo model is not loaded on this server" + (
            f" ({'; '.join(failures.values())})." if failures else "."
        )
        status = 503
    page = render_template("photo.html", model=model, accept=ACCEPT, top_k=TOP_K, **context)
    return page, status


@bp.get("/photo")
def photo_page():
    return _render()


@bp.post("/photo")
@limited("predict")
def photo_upload():
    """The no-JavaScript path: a multipart form in, the result page (or a friendly 4xx) out."""
    try:
        answer = classify_upload(_photo_model())
    except UnknownModel:
        return _render()
    except RequestEntityTooLarge:
        return _render(413, error=too_large_message())
    except InputError as exc:
        return _render(exc.status, error=exc.detail, filename=uploaded_filename())
    return _render(**answer)


@bp.app_template_global("example_photos")
def example_photos(model: Model | None) -> list[ExamplePhoto]:
    """The example photos worth offering to ``model``: those whose class it knows (all of
    them for an ImageNet model, none for a photo model of other classes)."""
    known = set(model.labels) if model is not None else set()
    return [example for example in EXAMPLE_PHOTOS if example.label in known]


def example_photo_bytes(name: str) -> bytes:
    """The example photo ``name`` (one of ``EXAMPLE_PHOTOS``, never any other file)."""
    if name not in {example.file for example in EXAMPLE_PHOTOS}:
        raise InputError("unknown_example", f"There is no example photo named {name!r}.", 400)
    return (Path(current_app.static_folder) / EXAMPLES_FOLDER / name).read_bytes()


def classify_upload(model: Model, top_k: int = TOP_K) -> dict:
    """The form's ``file`` (or the example photo the form names) classified by ``model``:
    what a page shows of the answer (the result, its bars, the photo small and its name).
    Raises ``InputError`` for a bad file and ``RequestEntityTooLarge`` for one over the
    limit."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    filename = (upload.filename or "") if upload is not None else ""
    if not data and not filename and request.form.get("example"):
        filename = request.form["example"]
        data = example_photo_bytes(filename)
    if not data and not filename:
        raise InputError("missing_file", "Choose a photo first.", 400)
    check_hint(filename, data)
    rt = runtime()
    result = predict_bytes(
        model, data, rt.limits, top_k=top_k, recorder=rt.recorder, owner=visitor_owner()
    )
    shown = open_photo(data, rt.limits, draft_size=SHOWN_SIZE)
    return {
        "result": result,
        "bars": bars_of(result),
        "photo_uri": "data:image/jpeg;base64,"
        + base64.b64encode(thumbnail_jpeg(shown, SHOWN_SIZE)).decode(),
        "filename": PurePath(filename).name,
    }


def too_large_message() -> str:
    limit = _human_size(runtime().settings.max_upload_bytes)
    return f"That file is too large: the limit is {limit}."


def _human_size(size: int) -> str:
    mb = 1024 * 1024
    return f"{size / mb:.0f} MB" if size >= mb else f"{size / 1024:.0f} kB"


def uploaded_filename() -> str:
    upload = request.files.get("file")
    return PurePath(upload.filename).name if upload and upload.filename else ""


def check_hint(filename: str, data: bytes) -> None:
    """The file name as a first hint: it only words the refusal, the bytes decide.

    A PNG named ``scan.dat`` is classified; ``notes.pdf`` holding a PDF is refused with
    its name in the sentence; ``cat.jpg`` holding text is refused for its bytes.
    """
    if not data or sniff_format(data) is not None:
        return
    suffix = PurePath(filename).suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES:
        raise InputError(
            "unsupported_format",
            f"{PurePath(filename).name} is not a photo: choose a PNG, JPEG, WebP, GIF or "
            "BMP image.",
            415,
        )
    if suffix:
        raise InputError(
            "unsupported_format",
            f"{PurePath(filename).name} is named like an image but its content is not a "
            "PNG, JPEG, WebP, GIF or BMP image.",
            415,
        )


def bars_of(result: PredictionResult) -> list[dict]:
    """The top classes as the page draws them (the same numbers photo.js gets as JSON)."""
    return [
        {"label": p.label, "percent": round(100 * p.score, 1), "best": i == 0}
        for i, p in enumerate(result.predictions)
    ]


@bp.get("/api/v1/predictions/chart.png")
def chart_from_scores():
    """Any top-k list as a bar chart PNG: ``?label=tabby&score=0.51&label=lynx&score=0.2``.

    One ``label`` and one ``score`` (a probability, 0 to 1) per bar, in the order given,
    up to 20 bars; ``title`` is optional. Meant for reports that already hold a
    prediction's JSON. Bad parameters get a JSON 400.
    """
    labels = request.args.getlist("label")
    raw_scores = request.args.getlist("score")
    try:
        scores = [float(s) for s in raw_scores]
    except ValueError:
        raise InputError("invalid_bars", "Each score must be a number from 0 to 1.", 400) from None
    png = render_bar_chart(labels, scores, request.args.get("title", ""))
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"  # the URL is the content
    return response


@bp.post("/api/v1/models/<name>/chart.png")
@limited("predict")
def chart_from_image(name: str):
    """Predict and chart in one call: the image goes in exactly as for ``.../predict``
    (multipart ``file``, JSON data URI or raw bytes; ``top_k`` 1 to 20, default 5) and
    the top classes come back as a PNG bar chart instead of JSON.
    """
    model = runtime().registry.get(name)
    data, options = image_from_request(request)
    top_k = min(top_k_option(request.args.get("top_k", options.get("top_k")), TOP_K), MAX_BARS)
    rt = runtime()
    result = predict_bytes(
        model, data, rt.limits, top_k=top_k, recorder=rt.recorder, owner=visitor_owner()
    )
    scores = [min(1.0, max(0.0, p.score)) for p in result.predictions]  # float rounding
    title = f"{model.name} {model.version}"
    png = render_bar_chart([p.label for p in result.predictions], scores, title)
    response = Response(png, mimetype="image/png")
    response.headers["X-Prediction-Id"] = result.id
    return response
