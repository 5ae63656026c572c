"""Every page through axe-core in Chromium: no serious or critical accessibility violation.

axe.min.js comes from the axe-playwright-python wheel (the dev extra), so no CDN or npm step.
The pages' CSP allows only their own scripts, so axe runs in a context that bypasses it.
"""

from __future__ import annotations

from importlib.resources import files

import pytest
from conftest import bearer, cli, cli_token
from photo_samples import chelsea_jpeg, coffee_jpeg

pytestmark = pytest.mark.browser

AXE_JS = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
OPERATOR, PASSWORD = "ada-a11y", "accessible since 1843"
# Swagger UI (/docs) is third-party markup served from a wheel: its own container is left out.
EXCLUDED = {"/docs": ["#swagger-ui"]}


@pytest.fixture(scope="module")
def axe_context(browser):
    # Reduced motion: Bootstrap then has no colour transitions, which axe would catch midway.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, reduced_motion="reduce"
    )
    yield context
    context.close()


@pytest.fixture
def axe_page(axe_context):
    page = axe_context.new_page()
    yield page
    page.close()


def check(page, name: str, exclude: list[str] = ()) -> None:
    """Run axe on the page as it is now; fail on serious or critical violations."""
    page.add_script_tag(content=AXE_JS)
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    results = page.evaluate(
        "async (context) => await axe.run(context || document, {resultTypes: ['violations']})",
        context,
    )
    bad = []
    for violation in results["violations"]:
        where = [node["target"] for node in violation["nodes"]][:5]
        line = f"{name}: {violation['impact']} {violation['id']}: {violation['help']} at {where}"
        if violation["impact"] in ("serious", "critical"):
            bad.append(line + "\n    " + violation["nodes"][0]["failureSummary"].replace("\n", " "))
        else:
            print(line)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/draw",
        "/photo",
        "/history",
        "/models/digits",
        "/models/efficientnet-lite0",
        "/auth/login",
        "/teach",
        "/docs",
        "/no-such-page",
    ],
)
def test_page_has_no_serious_violations(axe_page, live_server, path):
    axe_page.goto(live_server.url + path)
    if path == "/docs":
        axe_page.locator("#swagger-ui .info").wait_for()
    check(axe_page, path, EXCLUDED.get(path, []))


def test_draw_page_with_an_answer(axe_page, live_server):
    axe_page.goto(live_server.url + "/draw")
    canvas = axe_page.locator("canvas").first
    box = canvas.bounding_box()
    axe_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2)
    axe_page.mouse.down()
    axe_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8, steps=10)
    axe_page.mouse.up()
    axe_page.locator("#result").wait_for(state="visible")
    check(axe_page, "/draw (answered)")
    # Only the answer is a live region, not the bars, top 3 and timing that change on every stroke.
    live = axe_page.locator("#draw-app [aria-live]:not([role=status])")
    assert live.count() == 1
    assert live.get_attribute("id") == "answer"
    assert axe_page.locator("#digit").inner_text() in live.inner_text()


def test_the_navbar_focus_ring_shows_on_the_dark_bar(axe_page, live_server):
    """Bootstrap's ring (25% blue) is about 1.3:1 on the dark navbar: ours is solid white."""
    axe_page.goto(live_server.url + "/")
    axe_page.keyboard.press("Tab")  # the skip link
    axe_page.keyboard.press("Tab")  # the brand
    ring = axe_page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.className, s.outlineStyle, s.outlineColor,"
        " s.outlineWidth]; }"
    )
    assert "navbar-brand" in ring[0]
    assert ring[1:] == ["solid", "rgb(255, 255, 255)", "2px"]


def test_photo_page_with_an_answer_and_the_feedback_widget(axe_page, live_server, tmp_path):
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(chelsea_jpeg())
    axe_page.goto(live_server.url + "/photo")
    axe_page.locator("#file").set_input_files(str(photo))
    axe_page.locator("#result").wait_for(state="visible")
    check(axe_page, "/photo (answered)")
    axe_page.get_by_role("button", name="Wrong? It is: …").click()
    axe_page.get_by_label("The right class").wait_for()
    check(axe_page, "/photo (correcting)")


def test_a_taught_models_editor_as_a_visitor_sees_it(axe_page, live_server):
    url = live_server.url + "/api/v1/taught"
    headers = bearer(cli_token(live_server.instance_path, "teacher"))
    assert axe_page.request.post(url, data={"name": "a11y-taught"}, headers=headers).ok
    for label, photo in (("cat", chelsea_jpeg()), ("coffee", coffee_jpeg())):
        for number in (1, 2):
            picture = {"name": f"{label}-{number}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            added = axe_page.request.post(
                f"{url}/a11y-taught/examples",
                multipart={"label": label, "file": picture},
                headers=headers,
            )
            assert added.status == 201, added.text()
    assert axe_page.request.post(f"{url}/a11y-taught/train", headers=headers).ok
    axe_page.goto(live_server.url + "/teach/a11y-taught")
    axe_page.locator("#confusion tbody tr").nth(1).wait_for()
    check(axe_page, "/teach/a11y-taught")


def test_review_page_signed_in_as_operator(axe_page, live_server):
    cli(
        live_server.instance_path,
        *("users", "create", OPERATOR, "--role", "operator", "--password-stdin"),
        stdin=PASSWORD,
    )
    axe_page.goto(live_server.url + "/review")
    axe_page.get_by_label("Name").fill(OPERATOR)
    axe_page.get_by_label("Password").fill(PASSWORD)
    axe_page.get_by_role("button", name="Sign in").click()
    axe_page.wait_for_url(live_server.url + "/review")
    check(axe_page, "/review")
