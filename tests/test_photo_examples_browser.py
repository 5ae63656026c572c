"""The photo pages' example photos, their phone layout and their "Use the API" box: in
Chromium at a desktop's and a phone's size, with and without JavaScript, and the curl and
Python calls the box shows run as shown against the live server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import checked_page
from conftest import drawn_one, make_app
from model_factories import colours_model
from photo_samples import CAT_CLASSES, chelsea_jpeg
from playwright.sync_api import expect

from modelport.web.photo import EXAMPLE_PHOTOS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "src/modelport/web/static/examples/photos"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(params=list(SIZES))
def sized_page(request, browser):
    """A page at a desktop's size and at a phone's (touch, mobile), failing on console errors."""
    phone = request.param == "phone"
    context = browser.new_context(viewport=SIZES[request.param], has_touch=phone, is_mobile=phone)
    yield from checked_page(context)


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    yield from checked_page(context)


def my_prediction_ids(page, url: str) -> set[str]:
    listed = page.request.get(f"{url}/api/v1/predictions").json()
    return {p["id"] for p in listed["predictions"]}


# The example photos themselves ---------------------------------------------------------


def test_each_example_photo_is_on_disk_small_and_credited():
    sources = (EXAMPLES / "SOURCES.md").read_text()
    assert 3 <= len(EXAMPLE_PHOTOS) <= 5
    for example in EXAMPLE_PHOTOS:
        path = EXAMPLES / example.file
        assert path.stat().st_size < 40 * 1024, example.file
        assert f"`{example.file}`" in sources
    assert "CC BY 2.0" in sources and "CC0" in sources


# In the browser --------------------------------------------------------------------------


@pytest.mark.browser
def test_on_a_phone_the_answer_to_an_upload_is_in_view(phone_page, live_server, tmp_path):
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(chelsea_jpeg())
    phone_page.goto(f"{live_server.url}/photo")
    phone_page.locator("#file").set_input_files(str(photo))
    best = phone_page.locator("#best")
    expect(best).not_to_have_text("")
    expect(best).to_be_in_viewport(ratio=1)
    assert best.inner_text() in CAT_CLASSES
    preview = phone_page.locator("#preview").bounding_box()
    assert preview["height"] <= 0.36 * PHONE["height"]  # the photo does not fill the screen


@pytest.mark.browser
def test_on_a_phone_an_error_is_in_view(phone_page, live_server, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo at all")
    phone_page.goto(f"{live_server.url}/photo")
    phone_page.locator("#file").set_input_files(str(notes))
    error = phone_page.get_by_test_id("error")
    expect(error).to_contain_text("not a supported image")
    expect(error).to_be_in_viewport(ratio=1)
    # The browser logs the API's refusal (HTTP 415) as a console error: expected here.
    phone_page.console_problems[:] = [p for p in phone_page.console_problems if "415" not in p]


@pytest.mark.browser
def test_clicking_an_example_classifies_it_and_stores_the_prediction(sized_page, live_server):
    page = sized_page
    page.goto(f"{live_server.url}/photo")
    examples = page.get_by_test_id("examples")
    expect(examples).to_contain_text("Or try an example")
    expect(examples.get_by_role("button")).to_have_count(len(EXAMPLE_PHOTOS))
    page.get_by_role("button", name="Try the example: a cup of coffee").click()
    best = page.locator("#best")
    expect(best).to_have_text("espresso")
    expect(best).to_be_in_viewport()
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#preview-name")).to_have_text("coffee.jpg")
    assert page.url.endswith("/photo")  # answered in place, without a form POST
    expect(page.locator("#result")).not_to_have_attribute("data-prediction-id", "")
    prediction_id = page.locator("#result").get_attribute("data-prediction-id")
    assert prediction_id in my_prediction_ids(page, live_server.url)


@pytest.mark.browser
def test_a_model_page_of_an_imagenet_model_offers_the_examples_too(page, live_server):
    page.goto(f"{live_server.url}/models/efficientnet-lite0")
    page.get_by_role("button", name="Try the example: a cat").click()
    expect(page.locator("#best")).not_to_have_text("")
    assert page.locator("#best").inner_text() in CAT_CLASSES


@pytest.mark.browser
def test_without_javascript_an_upload_opens_at_its_answer_on_a_phone(
    browser, live_server, tmp_path
):
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(chelsea_jpeg())
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/photo")
        page.locator("#file").set_input_files(str(photo))
        with page.expect_navigation():
            page.get_by_role("button", name="Classify").click()
        best = page.locator("#best")
        assert best.inner_text() in CAT_CLASSES
        expect(best).to_be_in_viewport(ratio=1)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("path", ["/photo", "/models/efficientnet-lite0"])
def test_without_javascript_an_example_is_a_working_button(browser, live_server, path, size):
    context = browser.new_context(viewport=SIZES[size], java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}{path}")
        with page.expect_navigation():
            page.get_by_role("button", name="Try the example: a cup of coffee").click()
        assert page.url == f"{live_server.url}{path}"
        expect(page.locator("#best")).to_have_text("espresso")
        expect(page.locator("#best")).to_be_in_viewport(ratio=1)
        expect(page.locator("#preview-name")).to_have_text("coffee.jpg")
        prediction_id = page.locator("#result").get_attribute("data-prediction-id")
        assert prediction_id in my_prediction_ids(page, live_server.url)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/photo", "/draw", "/models/efficientnet-lite0"])
def test_the_api_box_is_open_and_nothing_in_it_is_cut_off(sized_page, live_server, path):
    page = sized_page
    page.goto(f"{live_server.url}{path}")
    box = page.locator("#use-the-api")
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name="Use the API")).to_be_visible()
    assert page.locator("#use-the-api details").count() == 0
    blocks = box.locator("pre")
    assert blocks.count() >= 2
    for block in blocks.all():
        expect(block).to_be_visible()
        expect(block).to_have_attribute("tabindex", "0")
        wide, shown = block.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert wide <= shown, f"{path}: a line of {block.inner_text()!r} runs out of its box"
    expect(box.get_by_test_id("python")).to_contain_text("from modelport import Client")


# The calls the box shows, run as shown ----------------------------------------------------


def shown_calls(page, url: str, path: str) -> tuple[list[str], str]:
    page.goto(f"{url}{path}")
    box = page.locator("#use-the-api")
    curls = [block.inner_text() for block in box.get_by_test_id("curl").all()]
    return curls, box.get_by_test_id("python").inner_text()


def run_shell(command: str, folder: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode(errors="replace")


def run_python(code: str, folder: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.browser
def test_the_photo_page_calls_work_as_shown(page, live_server, tmp_path):
    shutil.copy(REPO / "examples/cat.jpg", tmp_path / "photo.jpg")
    curls, python = shown_calls(page, live_server.url, "/photo")
    predict, chart = curls
    assert predict.startswith("curl -F file=@photo.jpg ")
    answer = json.loads(run_shell(predict, tmp_path))
    assert answer["predictions"][0]["label"] in CAT_CLASSES
    run_shell(chart, tmp_path)
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    label, score = run_python(python, tmp_path).strip().rsplit(" ", 1)
    assert label in CAT_CLASSES and 0 < float(score) <= 1


@pytest.mark.browser
def test_the_draw_page_calls_work_as_shown(page, live_server, tmp_path):
    (tmp_path / "drawing.png").write_bytes(drawn_one())
    curls, python = shown_calls(page, live_server.url, "/draw")
    model_route, data_uri_route = curls
    assert "/api/v1/models/digits/predict" in model_route
    assert "/api/predict" in data_uri_route and "data:image/png;base64," in data_uri_route
    assert json.loads(run_shell(model_route, tmp_path))["predictions"][0]["label"] == "1"
    assert json.loads(run_shell(data_uri_route, tmp_path))["digit"] == 1
    assert run_python(python, tmp_path).startswith("1 ")


# The server side of the examples (Flask's test client) -----------------------------------


@pytest.fixture(scope="module")
def photo_client(tmp_path_factory):
    store = tmp_path_factory.mktemp("examples-store")
    colours_model(store)
    app = make_app(
        tmp_path_factory.mktemp("examples-instance"), store, ("efficientnet-lite0", "colours")
    )
    return app.test_client()


def test_an_example_posted_by_name_is_classified(photo_client):
    response = photo_client.post(
        "/photo", data={"example": "palace.jpg"}, content_type="multipart/form-data"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="best">palace<' in page
    assert 'id="preview-name" class="small text-secondary mt-1">palace.jpg<' in page


@pytest.mark.parametrize("name", ["../../../app.py", "SOURCES.md", "nope.jpg"])
def test_a_name_that_is_no_example_is_refused_kindly(photo_client, name):
    response = photo_client.post(
        "/photo", data={"example": name}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "There is no example photo named" in response.get_data(as_text=True)


def test_examples_are_offered_only_to_models_that_know_their_classes(photo_client):
    imagenet = photo_client.get("/models/efficientnet-lite0").get_data(as_text=True)
    colours = photo_client.get("/models/colours").get_data(as_text=True)
    assert imagenet.count('class="example-photo') == len(EXAMPLE_PHOTOS)
    assert "Or try an example" not in colours and 'id="photo-form"' in colours
