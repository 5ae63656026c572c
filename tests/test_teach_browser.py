"""The teaching pages in Chromium: a teacher names a model on /teach, gives two classes their
photos, trains it, reads the leave-one-out accuracy and the confusion table, tries a new
photo and corrects an answer, which the model learns as one more example. On a phone
nothing scrolls sideways; visitors see how to sign in instead of the form; without
JavaScript the form still makes a model."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import skimage.data
from conftest import bearer, cli, cli_token, start_server, stop_server
from PIL import Image
from playwright.sync_api import expect
from sklearn.datasets import load_sample_image
from teach_pictures import jpeg, variant
from test_accessibility import check

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEACHER, PASSWORD = "tess", "teaching is learning twice"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PHOTOS = {
    "cat": lambda: Image.fromarray(skimage.data.chelsea()),
    "coffee": lambda: Image.fromarray(skimage.data.coffee()),
}


def pictures(label: str, seed: int, count: int) -> list[dict]:
    """``count`` new looks at the class's photo, as Playwright sends files."""
    rng = np.random.default_rng(seed)
    photo = PHOTOS[label]()
    return [
        {
            "name": f"{label}-{seed}-{i}.jpg",
            "mimeType": "image/jpeg",
            "buffer": jpeg(variant(photo, rng)),
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_store):
    """A server of its own (one worker) with the photo model, and a teacher who may sign in."""
    root = tmp_path_factory.mktemp("teach-browser")
    started = start_server(root, model_store, ("efficientnet-lite0",), args=("--workers", "1"))
    cli(root, "users", "create", TEACHER, "--role", "teacher", "--password-stdin", stdin=PASSWORD)
    yield started
    stop_server(started)


@pytest.fixture(scope="module")
def trained(server, browser) -> str:
    """'pets', taught through the API (a teacher's token): 3 photos of each class, trained."""
    headers = bearer(cli_token(server.instance_path, "teacher"))
    context = browser.new_context()
    api = context.request
    assert api.post(f"{server.url}/api/v1/taught", data={"name": "pets"}, headers=headers).ok
    for label in PHOTOS:
        for picture in pictures(label, seed=7, count=3):
            sent = api.post(
                f"{server.url}/api/v1/taught/pets/examples",
                multipart={"label": label, "file": picture},
                headers=headers,
            )
            assert sent.status == 201, sent.text()
    assert api.post(f"{server.url}/api/v1/taught/pets/train", headers=headers).ok
    context.close()
    return "pets"


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/auth/login?next=/teach")
    page.get_by_label("Name").fill(TEACHER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/teach")


def class_card(page, index: int):
    return page.locator("#class-cards .teach-class").nth(index)


def give_photos(page, index: int, label: str, files: list[dict]) -> None:
    card = class_card(page, index)
    card.locator(".class-name").fill(label)
    card.locator(".class-files").set_input_files(files)
    expect(card.locator(".class-title")).to_have_text(label)
    expect(card.locator(".teach-thumb")).to_have_count(len(files))


def confusion_rows(page) -> dict[str, list[int]]:
    rows = page.locator("#confusion tbody tr")
    return {
        rows.nth(i).locator("th").inner_text(): [
            int(n) for n in rows.nth(i).locator("td").all_inner_texts()
        ]
        for i in range(rows.count())
    }


def test_a_teacher_teaches_trains_tries_and_corrects_a_model(page, server):
    sign_in(page, server.url)
    page.get_by_label("Its name").fill("cat-or-coffee")
    page.get_by_role("button", name="Create and add photos").click()
    page.wait_for_url(f"{server.url}/teach/cat-or-coffee")
    expect(class_card(page, 0).locator(".class-name")).to_have_value("Class 1")
    expect(class_card(page, 1).locator(".class-name")).to_have_value("Class 2")

    page.get_by_role("button", name="Train").click()  # too early: said kindly
    expect(page.locator("#teach-error")).to_contain_text("at least two classes")

    give_photos(page, 0, "cat", pictures("cat", seed=1, count=4))
    give_photos(page, 1, "coffee", pictures("coffee", seed=1, count=3))
    expect(page.locator("#teach-status")).to_have_text("Added 3 photos to coffee.")
    page.get_by_role("button", name="Train").click()
    accuracy = page.locator("#accuracy")
    expect(accuracy).to_have_text(
        re.compile(r"Leave-one-out accuracy: \d+% \(each example answered by the others\)")
    )
    assert int(re.search(r"(\d+)%", accuracy.inner_text()).group(1)) >= 80
    expect(page.locator("#confusion thead th")).to_have_text(
        ["True class \\ answered", "cat", "coffee"]
    )
    rows = confusion_rows(page)
    assert list(rows) == ["cat", "coffee"] and [sum(r) for r in rows.values()] == [4, 3]

    page.get_by_label("Choose a photo the model has not seen").set_input_files(
        pictures("coffee", seed=2, count=1)
    )
    expect(page.locator("#best")).to_have_text("coffee")
    expect(page.locator("#bars [data-testid=class-row]")).to_have_count(2)

    odd = jpeg(Image.fromarray(load_sample_image("china.jpg")))  # neither class
    page.get_by_label("Choose a photo the model has not seen").set_input_files(
        {"name": "palace.jpg", "mimeType": "image/jpeg", "buffer": odd}
    )
    expect(page.locator("#feedback [data-feedback=wrong]")).to_be_visible()
    said = page.locator("#best").inner_text()
    right = "cat" if said == "coffee" else "coffee"
    page.get_by_role("button", name="Wrong? It is: …").click()
    page.locator("#feedback").get_by_role("button", name=right).click()
    expect(page.locator("#feedback")).to_contain_text("The model has learned it.")
    corrected = class_card(page, 0 if right == "cat" else 1)
    expect(corrected.locator(".teach-thumb")).to_have_count(5 if right == "cat" else 4)
    expect(corrected.locator(".teach-thumb[data-source=correction]")).to_have_count(1)

    onnx = page.get_by_role("link", name="Download ONNX").get_attribute("href")
    assert page.request.get(server.url + onnx).ok
    expect(page.get_by_role("link", name="Open its page")).to_have_attribute(
        "href", "/models/cat-or-coffee"
    )


def test_a_photo_is_deleted_with_its_button_and_the_model_with_a_confirm(page, server):
    sign_in(page, server.url)
    page.get_by_label("Its name").fill("short-lived")
    page.get_by_role("button", name="Create and add photos").click()
    give_photos(page, 0, "cat", pictures("cat", seed=3, count=2))
    page.get_by_role("button", name="Delete cat photo 1").click()
    card = class_card(page, 0)
    expect(card.locator(".teach-thumb")).to_have_count(1)
    expect(card.get_by_role("button", name="Delete cat photo 1")).to_be_focused()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this model").click()
    page.wait_for_url(f"{server.url}/teach")
    assert page.request.get(f"{server.url}/api/v1/taught/short-lived").status == 404


def test_a_visitor_sees_how_to_sign_in_and_no_form(page, server, trained):
    page.goto(f"{server.url}/teach")
    sentence = page.locator("#sign-in-to-teach")
    expect(sentence).to_be_visible()
    expect(sentence.get_by_role("link", name="sign in")).to_have_attribute(
        "href", "/auth/login?next=/teach"
    )
    expect(page.locator("#create-form")).to_have_count(0)
    expect(page.get_by_role("link", name="Open the page of pets")).to_be_visible()

    page.get_by_role("link", name="pets", exact=True).click()
    expect(page.locator("#class-cards .teach-class")).to_have_count(2)
    expect(page.get_by_role("button", name="Train")).to_be_hidden()
    expect(page.get_by_role("button", name="Add photos to cat")).to_be_hidden()
    expect(page.locator("#try")).to_be_visible()


def test_on_a_phone_the_pages_fit_and_the_cards_stack(browser, server, trained):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, server.url)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"{server.url}/teach/{trained}")
    first, second = (class_card(page, i).bounding_box() for i in (0, 1))
    assert first["x"] == second["x"] and second["y"] > first["y"] + first["height"] - 1
    expect(page.locator("#confusion")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_without_javascript_the_form_makes_a_model(browser, server):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url)
    page.get_by_label("Its name").fill("Not A Name")
    page.get_by_role("button", name="Create and add photos").click()
    expect(page.locator("#create-error")).to_contain_text("lowercase letters")
    page.get_by_label("Its name").fill("made-without-script")
    page.get_by_role("button", name="Create and add photos").click()
    page.wait_for_url(f"{server.url}/teach/made-without-script")
    expect(page.get_by_test_id("nojs-message")).to_contain_text("Teaching needs JavaScript")
    context.close()


def test_the_teachers_editor_has_no_serious_violations(browser, server, trained):
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True, reduced_motion="reduce")
    page = context.new_page()
    sign_in(page, server.url)
    check(page, "/teach (a teacher)")
    page.goto(f"{server.url}/teach/{trained}")
    page.get_by_label("Choose a photo the model has not seen").set_input_files(
        pictures("cat", seed=4, count=1)
    )
    page.get_by_role("button", name="Wrong? It is: …").click()
    expect(page.locator("#feedback .mp-feedback-choice")).to_have_count(1)
    check(page, f"/teach/{trained} (a teacher, answered)")
    context.close()


PICTURES_IN_PAGE = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  return transfer;
}"""


def test_photos_are_pasted_into_the_focused_class_and_dropped_on_another(page, server):
    sign_in(page, server.url)
    page.get_by_label("Its name").fill("pasted-and-dropped")
    page.get_by_role("button", name="Create and add photos").click()
    first, second = class_card(page, 0), class_card(page, 1)
    first.locator(".class-name").fill("cat")
    second.locator(".class-name").fill("coffee")
    cat, coffee = pictures("cat", seed=5, count=1)[0], pictures("coffee", seed=5, count=1)[0]

    first.focus()
    pasted = page.evaluate_handle(
        PICTURES_IN_PAGE, [cat["name"], base64.b64encode(cat["buffer"]).decode()]
    )
    page.evaluate(
        "(transfer) => document.activeElement.dispatchEvent("
        "new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true}))",
        pasted,
    )
    expect(first.locator(".teach-thumb")).to_have_count(1)
    expect(first.locator(".class-title")).to_have_text("cat")

    dropped = page.evaluate_handle(
        PICTURES_IN_PAGE, [coffee["name"], base64.b64encode(coffee["buffer"]).decode()]
    )
    second.dispatch_event("drop", {"dataTransfer": dropped})
    expect(second.locator(".teach-thumb")).to_have_count(1)
    expect(second.locator(".class-title")).to_have_text("coffee")
    assert page.url == f"{server.url}/teach/pasted-and-dropped"  # the drop did not navigate
