"""Every route of the app, fuzzed: generated bodies, content types, query strings and path
values never get a 5xx (a 500 is a bug; a 503 would mean the database is down, and it is not).

The routes come from the app's own URL map, so a route added later is fuzzed without
anyone remembering to list it. The app serves the sketch models, two tabular models (one with
categories) and a small photo model; a few of its predictions exist, so real ids and real
labels are among the values tried. Hypothesis draws ``MODELPORT_FUZZ_EXAMPLES`` requests per
route and method (50 by default): a few seconds per route on two cores.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from urllib.parse import quote, urlencode

import pytest
from conftest import data_uri, drawn_one, make_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_factories import colours_model, iris_model, penguins_model, solid_png
from store_support import fresh_postgres_schema

MODELS = ("iris", "penguins", "colours", "digits", "digits-knn")
EXAMPLES = int(os.environ.get("MODELPORT_FUZZ_EXAMPLES", "50"))
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
JSON = {"Accept": "application/json"}

FEATURES = ["sepal_length", "petal_width", "island", "sex", "bill_length_mm", "body_mass_g"]
PARAMS = ["page", "per_page", "model", "corrected", "top_k", "label", "score", "title"]
KEYS = ["image", "model", "inputs", "label", "top_k", "file", *FEATURES]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "application/problem+json",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "application/octet-stream",
    "text/csv",
    "",
]

printable = st.characters(min_codepoint=32, max_codepoint=126)
any_text = st.text(max_size=40)
nasty_text = st.sampled_from(
    ["\x00", "a\x00b", "$", "$\\frac$", "=1+1", "-", "../../etc/passwd", "%00", "\ud7ff", "é" * 300]
)
tex_like = st.text(alphabet="$\\^_{}a", min_size=2, max_size=8)  # matplotlib's math syntax
numbers_as_text = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(str),
    st.sampled_from(["0", "-1", "1e309", "NaN", "inf", "0x10", "1_000", " 3 ", "2.5"]),
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.floats(),  # NaN and Infinity too: Python's json reads them
    any_text,
    nasty_text,
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _image_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzzed(request, tmp_path_factory):
    """The app, the values worth trying in its paths, and the labels its models know."""
    root = tmp_path_factory.mktemp("fuzz")
    store = root / "models"
    iris_model(store)
    penguins_model(store)
    colours_model(store)
    settings_ = {}
    schemas = None
    if request.param == "postgres":
        schemas = fresh_postgres_schema()
        settings_["database_url"] = next(schemas)
    app = make_app(root / "instance", store, MODELS, **settings_)
    client = app.test_client()
    ids = [
        client.post(
            "/api/predict", json={"image": data_uri(drawn_one()), "model": m}, headers=JSON
        ).json["id"]
        for m in ("digits", "digits-knn")
    ]
    ids.append(
        client.post("/api/v1/models/colours/predict", data=solid_png((200, 0, 0))).json["id"]
    )
    assert app.extensions["modelport"].recorder.flush(timeout=10)
    labels = sorted({label for m in app.extensions["modelport"].registry for label in m.labels})
    yield app, ids, labels[:50]
    app.extensions["modelport"].recorder.close()
    app.extensions["modelport_store"].dispose()
    if schemas is not None:
        next(schemas, None)  # drops the schema


def path_values(argument: str, ids: list[str]):
    fresh = f"{time.time_ns() // 1_000_000:012x}0badf00d"
    common = st.one_of(any_text.filter(bool), nasty_text)
    if argument == "name":
        return st.sampled_from([*MODELS, "nope", "efficientnet-lite0"]) | common
    if argument == "prediction_id":
        return st.sampled_from([*ids, fresh, "0" * 20, "nope"]) | common
    if argument == "filename":
        return st.sampled_from(["css/modelport.css", "js/photo.js", "nope.js", "css"]) | common
    return common


def bodies(labels: list[str]):
    """(data, content_type) pairs: None for "let the test client say" (forms)."""
    raw_types = st.sampled_from(CONTENT_TYPES) | st.text(printable, max_size=30)
    json_types = st.sampled_from(["application/json", "application/problem+json"])
    objects = st.dictionaries(
        st.sampled_from(KEYS), json_values | st.sampled_from(labels), max_size=5
    )
    good_images = st.sampled_from(
        [drawn_one(), solid_png((0, 0, 250)), drawn_one()[:150], b"GIF89a", b"%PDF-1.4"]
    )
    return st.one_of(
        st.tuples(st.just(b""), raw_types),
        st.tuples(st.binary(max_size=300), raw_types),
        st.tuples(json_values.map(lambda v: json.dumps(v).encode()), json_types | raw_types),
        st.tuples(objects.map(lambda v: json.dumps(v).encode()), json_types),
        st.tuples(
            st.tuples(st.integers(1, 200_000), st.sampled_from(["list", "dict"])).map(
                lambda args: _nested(*args)
            ),
            json_types,
        ),
        st.tuples(
            st.fixed_dictionaries(
                {"image": (good_images | st.binary(max_size=200)).map(_image_uri)},
                optional={"model": st.sampled_from(MODELS) | any_text, "top_k": json_leaves},
            ).map(lambda v: json.dumps(v).encode()),
            json_types,
        ),
        st.tuples(
            st.sampled_from([b'{"label": "\xff\xfe"}', b"\xff\xfe{}", b'{"inputs": {']), json_types
        ),
        st.tuples(good_images, st.sampled_from(["image/png", "application/octet-stream", ""])),
        st.tuples(
            st.dictionaries(
                st.sampled_from(["top_k", "csrf_token", *FEATURES]) | st.text(max_size=5),
                any_text | numbers_as_text | nasty_text,
                max_size=5,
            ).flatmap(
                lambda fields: st.one_of(
                    st.just(fields),
                    st.tuples(good_images | st.binary(max_size=200), any_text | nasty_text).map(
                        lambda file: fields | {"file": (io.BytesIO(file[0]), file[1] or "x")}
                    ),
                )
            ),
            st.just(None),
        ),
    )


def queries():
    pairs = st.lists(
        st.tuples(
            st.sampled_from(PARAMS) | st.text(max_size=5),
            any_text | numbers_as_text | nasty_text | st.sampled_from(MODELS),
        ),
        max_size=6,
    )
    # What the chart takes, mostly well-formed so that the labels and title reach matplotlib:
    # a label and a score (0 to 1) per bar, and maybe a title.
    label = tex_like | nasty_text | st.text(min_size=1, max_size=20)
    bars = st.tuples(
        st.lists(st.tuples(label, st.floats(0, 1)), min_size=1, max_size=3),
        st.lists(label, max_size=1),
    ).map(
        lambda b: (
            [p for lab, sc in b[0] for p in (("label", lab), ("score", sc))]
            + [("title", title) for title in b[1]]
        )
    )
    raw = st.sampled_from(["", "", "", "&x=%FF%FE", "&label=%00", "&score=%ZZ", "&&=&"])
    return st.tuples(pairs | bars, raw).map(lambda q: urlencode(q[0]) + q[1])


def _path(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for argument in rule.arguments:
        value = values[argument]
        for pattern in (f"<{argument}>", f"<path:{argument}>"):
            path = path.replace(pattern, quote(value, safe="/" if "path:" in pattern else ""))
    return path


def test_no_route_answers_a_5xx(fuzzed):
    app, ids, labels = fuzzed
    client = app.test_client()
    rules = [rule for rule in app.url_map.iter_rules()]
    assert len(rules) >= 20  # every route, found in the app itself
    tried: dict[str, float] = {}
    for rule in rules:
        for method in sorted(rule.methods - SKIPPED_METHODS):
            started = time.monotonic()
            _fuzz_route(client, rule, method, ids, labels)()
            tried[f"{method} {rule.rule}"] = round(time.monotonic() - started, 1)
    print("seconds per route:", tried)
    assert "POST /api/v1/predictions/<prediction_id>/feedback" in tried


def _fuzz_route(client, rule, method: str, ids: list[str], labels: list[str]):
    arguments = {argument: path_values(argument, ids) for argument in sorted(rule.arguments)}
    with_body = method in {"POST", "PUT", "PATCH", "DELETE"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        values=st.fixed_dictionaries(arguments),
        query=queries(),
        body=bodies(labels) if with_body else st.just((None, None)),
        as_browser=st.booleans(),
    )
    def fuzz(values, query, body, as_browser):
        data, content_type = body
        kwargs = {"method": method, "query_string": query}
        if with_body:
            kwargs["data"] = data
            if content_type is not None:
                kwargs["content_type"] = content_type
        if as_browser:  # error pages rather than JSON, where a route offers both
            kwargs["headers"] = {"Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
        response = client.open(_path(rule, values), **kwargs)
        text = response.get_data().decode(errors="replace")  # a streamed body read to its end
        assert response.status_code < 500, (
            f"{method} {rule.rule} {values} ?{query} {content_type!r} {data!r:.300}: "
            f"{response.status_code} {text[:300]}"
        )

    return fuzz
