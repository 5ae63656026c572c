// The teaching editor (/teach/<name>): a card per class with its example photos, added by
// choosing, dropping, pasting or the camera; Train; then Try it, whose answer can be
// corrected with the feedback widget (the correction becomes an example at once).
// Everything goes through the JSON API under /api/v1/taught/<name> (data-api); the page
// carries the model's detail as it was when served (data-detail).
(() => {
  "use strict";
  const app = document.getElementById("teach-app");
  if (!app) return;

  const API = app.dataset.api;
  const PREDICT = app.dataset.predict;
  const MAY_TEACH = !app.classList.contains("teach-read-only");
  const MAX_PER_REQUEST = 50;
  const RETRY_AFTER_MS = 700; // another server process serves a new model within a moment
  const HIGHLIGHT = ["border-primary", "bg-primary-subtle"];
  const CAMERA_USABLE = Boolean(
    window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
  );
  const byId = (id) => document.getElementById(id);
  const els = Object.fromEntries(
    ["teach-status", "teach-error", "class-cards", "add-class", "train", "accuracy",
     "confusion-wrap", "confusion", "try", "try-file", "try-busy", "try-error", "try-result",
     "try-preview", "best", "bars", "feedback", "delete-model", "trained-badge"]
      .map((id) => [id, byId(id)])
  );

  let detail = JSON.parse(app.dataset.detail);
  let slots = []; // a card each: {key, label, pending} (pending: no photo yet, name editable)
  let serial = 0;
  let queue = Promise.resolve(); // changes are sent one after another, in order
  let hovered = null;
  let camera = null; // {slot, stream}
  let previewUrl = null;

  // Messages ------------------------------------------------------------------------------

  function say(text) {
    els["teach-status"].textContent = text;
  }

  function showError(text) {
    els["teach-error"].textContent = text;
    els["teach-error"].classList.toggle("d-none", !text);
    if (text) say("");
  }

  async function call(method, url, body) {
    let response;
    try {
      response = await fetch(url, { method, body, headers: { Accept: "application/json" } });
    } catch (_) {
      return { ok: false, status: 0, body: { detail: "The server could not be reached. Please try again." } };
    }
    const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok && !answer.detail) answer.detail = `That did not work (HTTP ${response.status}).`;
    return { ok: response.ok, status: response.status, body: answer };
  }

  function enqueue(task) {
    queue = queue.then(task, task);
    return queue;
  }

  async function refresh() {
    const answer = await call("GET", API);
    if (answer.ok) applyDetail(answer.body);
    else showError(answer.body.detail);
  }

  // Classes as cards --------------------------------------------------------------------

  const labels = () => detail.classes.map((c) => c.label);
  const examplesOf = (label) => detail.example_list.filter((e) => e.label === label);
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  function nameOf(slot) {
    return slot.pending ? slot.card.querySelector(".class-name").value.trim() : slot.label;
  }

  function freeClassName() {
    const taken = new Set(slots.map(nameOf));
    let n = 1;
    while (taken.has(`Class ${n}`)) n += 1;
    return `Class ${n}`;
  }

  function addSlot(label, pending) {
    const slot = { key: ++serial, label, pending };
    slot.card = makeCard(slot);
    if (pending) slot.card.querySelector(".class-name").value = label;
    slots.push(slot);
    return slot;
  }

  // Cards follow the classes the server has; a class whose last photo went stays, empty.
  function syncSlots() {
    const known = labels();
    for (const slot of slots) {
      if (slot.pending || known.includes(slot.label)) continue;
      slot.pending = true;
      slot.card.querySelector(".class-name").value = slot.label;
    }
    for (const label of known) {
      if (!slots.some((s) => !s.pending && s.label === label)) addSlot(label, false);
    }
    while (MAY_TEACH && slots.length < 2) addSlot(freeClassName(), true);
  }

  function makeCard(slot) {
    const column = byId("class-card-template").content.firstElementChild.cloneNode(true);
    const card = column.querySelector(".teach-class");
    const input = card.querySelector(".class-name");
    input.id = `class-name-${slot.key}`;
    card.querySelector(".class-name-label").htmlFor = input.id;
    card.querySelector(".use-camera").classList.toggle("d-none", !CAMERA_USABLE);
    slot.column = column;
    if (MAY_TEACH) wireCard(slot, card);
    return card;
  }

  function wireCard(slot, card) {
    const files = card.querySelector(".class-files");
    card.querySelector(".add-photos").addEventListener("click", () => files.click());
    files.addEventListener("change", () => {
      addPhotos(slot, Array.from(files.files), "upload");
      files.value = "";
    });
    card.querySelector(".remove-class").addEventListener("click", () => removeClass(slot));
    card.querySelector(".use-camera").addEventListener("click", () => openCamera(slot));
    card.querySelector(".capture").addEventListener("click", () => capture(slot));
    card.querySelector(".camera-done").addEventListener("click", () => stopCamera(true));
    card.addEventListener("mouseenter", () => { hovered = slot; });
    card.addEventListener("mouseleave", () => { if (hovered === slot) hovered = null; });
    ["dragenter", "dragover"].forEach((type) =>
      card.addEventListener(type, (event) => {
        event.preventDefault();
        card.classList.add(...HIGHLIGHT);
      })
    );
    ["dragleave", "dragend"].forEach((type) =>
      card.addEventListener(type, () => card.classList.remove(...HIGHLIGHT))
    );
    card.addEventListener("drop", (event) => {
      event.preventDefault();
      card.classList.remove(...HIGHLIGHT);
      addPhotos(slot, Array.from((event.dataTransfer && event.dataTransfer.files) || []), "upload");
    });
  }

  function renderCards() {
    const columns = slots.map((slot) => {
      updateCard(slot);
      return slot.column;
    });
    // Moving a card that holds the focus would lose it: only add what is not there yet.
    columns.forEach((column, i) => {
      if (els["class-cards"].children[i] !== column) {
        els["class-cards"].insertBefore(column, els["class-cards"].children[i] || null);
      }
    });
    while (els["class-cards"].children.length > columns.length) {
      els["class-cards"].lastElementChild.remove();
    }
  }

  function updateCard(slot) {
    const card = slot.card;
    const examples = slot.pending ? [] : examplesOf(slot.label);
    const title = card.querySelector(".class-title");
    title.textContent = slot.pending ? "" : slot.label;
    title.classList.toggle("d-none", slot.pending);
    card.querySelector(".class-name-field").classList.toggle("d-none", !slot.pending);
    card.setAttribute("aria-label", `Class ${nameOf(slot) || "without a name"}`);
    card.querySelector(".class-count").textContent = plural(examples.length, "photo", "photos");
    card.querySelector(".class-empty").classList.toggle("d-none", examples.length > 0);
    const label = nameOf(slot);
    card.querySelector(".remove-class").setAttribute("aria-label", `Remove the class ${label}`);
    card.querySelector(".add-photos").setAttribute("aria-label", `Add photos to ${label}`);
    card.querySelector(".use-camera").setAttribute("aria-label", `Use the camera for ${label}`);
    card.querySelector(".teach-thumbs").replaceChildren(
      ...examples.map((example, i) => thumbnail(slot, example, i + 1))
    );
  }

  function thumbnail(slot, example, number) {
    const item = byId("thumb-template").content.firstElementChild.cloneNode(true);
    const corrected = example.source === "correction";
    const what = `${slot.label} photo ${number}${corrected ? " (from a correction)" : ""}`;
    item.dataset.exampleId = example.id;
    item.dataset.source = example.source;
    item.classList.toggle("teach-thumb-correction", corrected);
    const image = item.querySelector("img");
    image.src = example.thumbnail;
    image.alt = what;
    image.title = what;
    const remove = item.querySelector(".teach-thumb-delete");
    remove.setAttribute("aria-label", `Delete ${what}`);
    if (MAY_TEACH) remove.addEventListener("click", () => deleteExample(slot, example.id));
    return item;
  }

  // Changes -----------------------------------------------------------------------------

  function usableName(slot) {
    const name = nameOf(slot);
    if (!name) return { error: "Give the class a name first." };
    if (slots.some((other) => other !== slot && nameOf(other) === name)) {
      return { error: `Another class is called ${name}: give this one another name.` };
    }
    return { name };
  }

  function addPhotos(slot, files, source) {
    const pictures = files.filter((file) => !file.type || file.type.startsWith("image/"));
    if (!pictures.length) {
      showError("Those are not pictures: add photos (JPEG, PNG, WebP, GIF or BMP).");
      return queue;
    }
    return enqueue(async () => {
      const chosen = usableName(slot);
      if (chosen.error) {
        showError(chosen.error);
        return;
      }
      showError("");
      for (let start = 0; start < pictures.length; start += MAX_PER_REQUEST) {
        const batch = pictures.slice(start, start + MAX_PER_REQUEST);
        say(`Adding ${plural(batch.length, "photo", "photos")} to ${chosen.name}…`);
        const body = new FormData();
        body.append("label", chosen.name);
        body.append("source", source);
        batch.forEach((file, i) => body.append("file", file, file.name || `photo-${i + 1}.jpg`));
        const answer = await call("POST", `${API}/examples`, body);
        if (!answer.ok) {
          showError(answer.body.detail);
          return;
        }
        slot.label = chosen.name;
        slot.pending = false;
        applyDetail(answer.body);
      }
      say(`Added ${plural(pictures.length, "photo", "photos")} to ${chosen.name}.`);
    });
  }

  function deleteExample(slot, exampleId) {
    return enqueue(async () => {
      const buttons = Array.from(slot.card.querySelectorAll(".teach-thumb-delete"));
      const index = buttons.findIndex((b) => b.closest("li").dataset.exampleId === String(exampleId));
      const answer = await call("DELETE", `${API}/examples/${exampleId}`);
      if (!answer.ok) {
        showError(answer.body.detail);
        return;
      }
      showError("");
      await refresh();
      say(`Deleted a photo of ${slot.label}.`);
      const left = slot.card.querySelectorAll(".teach-thumb-delete");
      (left[Math.min(index, left.length - 1)] || slot.card.querySelector(".add-photos")).focus();
    });
  }

  function removeClass(slot) {
    const name = nameOf(slot);
    const count = slot.pending ? 0 : examplesOf(slot.label).length;
    if (count && !window.confirm(`Remove the class ${name} and its ${plural(count, "photo", "photos")}?`)) {
      return queue;
    }
    return enqueue(async () => {
      if (count) {
        const answer = await call("DELETE", `${API}/classes/${encodeURIComponent(slot.label)}`);
        if (!answer.ok) {
          showError(answer.body.detail);
          return;
        }
      }
      if (camera && camera.slot === slot) stopCamera(false);
      slots = slots.filter((s) => s !== slot);
      await refresh();
      say(`Removed the class ${name || "without a name"}.`);
      els["add-class"].focus();
    });
  }

  function addClass() {
    const slot = addSlot(freeClassName(), true);
    renderCards();
    const input = slot.card.querySelector(".class-name");
    input.focus();
    input.select();
  }

  // As the server counts: two classes, each with two photos at least.
  function readyToTrain() {
    return detail.classes.filter((c) => c.examples >= 2).length >= 2 &&
      detail.classes.every((c) => c.examples >= 2);
  }

  function train() {
    return enqueue(async () => {
      if (!readyToTrain()) {
        showError("Give at least two classes, each with at least two photos, then train.");
        return;
      }
      showError("");
      say("Training…");
      els.train.disabled = true;
      const answer = await call("POST", `${API}/train`);
      els.train.disabled = false;
      if (!answer.ok) {
        showError(answer.body.detail);
        return;
      }
      applyDetail(answer.body);
      say(`Trained on ${plural(answer.body.examples, "photo", "photos")} in ${Math.round(answer.body.train_ms)} ms.`);
      els.accuracy.focus();
    });
  }

  async function deleteModel() {
    if (!window.confirm(`Delete ${detail.name} and all its photos? This cannot be undone.`)) return;
    const answer = await call("DELETE", API);
    if (!answer.ok) {
      showError(answer.body.detail);
      return;
    }
    window.location.assign(app.dataset.list);
  }

  // Training's result -------------------------------------------------------------------

  function renderTraining() {
    const trained = detail.trained && detail.accuracy !== null && detail.accuracy !== undefined;
    els.accuracy.classList.toggle("d-none", !trained);
    els["confusion-wrap"].classList.toggle("d-none", !(trained && detail.confusion));
    els["trained-badge"].textContent = detail.trained ? "trained" : "not trained yet";
    for (const node of app.querySelectorAll(".trained-only")) {
      node.classList.toggle("d-none", !detail.trained);
    }
    els.try.classList.toggle("d-none", !detail.trained);
    if (!trained) return;
    els.accuracy.textContent =
      `Leave-one-out accuracy: ${Math.round(100 * detail.accuracy)}% (each example answered by the others)`;
    if (detail.confusion) renderConfusion(detail.confusion);
  }

  function cell(tag, text, attrs) {
    const node = document.createElement(tag);
    node.textContent = text;
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function renderConfusion(confusion) {
    const head = document.createElement("tr");
    head.append(cell("th", "True class \\ answered", { scope: "col" }));
    confusion.labels.forEach((label) => head.append(cell("th", label, { scope: "col" })));
    els.confusion.tHead.replaceChildren(head);
    const rows = confusion.labels.map((label, i) => {
      const row = document.createElement("tr");
      row.append(cell("th", label, { scope: "row" }));
      confusion.counts[i].forEach((count, j) => {
        const td = cell("td", String(count), { class: "text-end tabular-nums" });
        if (i === j) td.classList.add("teach-confusion-right");
        else if (count > 0) td.classList.add("teach-confusion-wrong");
        row.append(td);
      });
      return row;
    });
    els.confusion.tBodies[0].replaceChildren(...rows);
  }

  function applyDetail(fresh) {
    detail = fresh;
    syncSlots();
    renderCards();
    renderTraining();
  }

  // Try it ------------------------------------------------------------------------------

  function barRow(label, percent, best) {
    return window.modelportBars.row(byId("bar-template"), label, percent, best);
  }

  function showTried(answer) {
    const predictions = answer.predictions || [];
    els.bars.replaceChildren(...predictions.map((p, i) => barRow(p.label, 100 * p.score, i === 0)));
    const best = predictions.length ? predictions[0].label : "";
    els.best.textContent = best;
    els["try-result"].classList.remove("d-none");
    if (window.modelportFeedback && answer.id) {
      window.modelportFeedback.mount(els.feedback, {
        predictionId: answer.id, model: answer.model, predicted: best, labels: labels(),
      });
    } else {
      els.feedback.replaceChildren();
    }
  }

  async function ask(file, retried) {
    const body = new FormData();
    body.append("file", file, file.name || "photo.jpg");
    const answer = await call("POST", PREDICT, body);
    if (answer.status === 404 && !retried) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
      return ask(file, true);
    }
    return answer;
  }

  async function tryPhoto(file) {
    els["try-error"].classList.add("d-none");
    els["try-result"].classList.add("d-none");
    els["try-busy"].classList.remove("d-none");
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    els["try-preview"].src = previewUrl;
    const answer = await ask(file, false);
    els["try-busy"].classList.add("d-none");
    if (!answer.ok) {
      els["try-error"].textContent = answer.body.detail;
      els["try-error"].classList.remove("d-none");
      return;
    }
    showTried(answer.body);
  }

  // A correction sent through the feedback widget adds the photo to that class: show it.
  new MutationObserver(() => enqueue(refresh)).observe(els.feedback, {
    subtree: true, attributes: true, attributeFilter: ["data-sent"],
  });

  // The camera --------------------------------------------------------------------------

  async function openCamera(slot) {
    stopCamera(false);
    const panel = slot.card.querySelector(".teach-camera");
    const video = panel.querySelector("video");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      showError(`The camera could not be used (${error.name}): allow it in the browser, or add photos instead.`);
      return;
    }
    camera = { slot, stream };
    video.srcObject = stream;
    panel.classList.remove("d-none");
    await video.play().catch(() => {});
    panel.querySelector(".capture").focus();
  }

  function stopCamera(giveFocusBack) {
    if (!camera) return;
    const { slot, stream } = camera;
    camera = null;
    stream.getTracks().forEach((track) => track.stop());
    const panel = slot.card.querySelector(".teach-camera");
    panel.querySelector("video").srcObject = null;
    panel.classList.add("d-none");
    if (giveFocusBack) slot.card.querySelector(".use-camera").focus();
  }

  function capture(slot) {
    const video = slot.card.querySelector(".teach-camera video");
    if (!video.videoWidth) {
      showError("The camera has no picture yet: try again in a moment.");
      return;
    }
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (!blob) return;
      addPhotos(slot, [new File([blob], "camera.jpg", { type: "image/jpeg" })], "camera");
    }, "image/jpeg", 0.9);
  }

  // Pasting -----------------------------------------------------------------------------

  function pasteTarget() {
    const focused = slots.find((slot) => slot.card.contains(document.activeElement));
    return focused || hovered;
  }

  function pastedPictures(event) {
    const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
    return items
      .filter((item) => item.kind === "file" && item.type.startsWith("image/"))
      .map((item) => item.getAsFile())
      .filter(Boolean);
  }

  // Start -------------------------------------------------------------------------------

  applyDetail(detail);
  app.classList.add("teach-ready");
  els["try-file"].addEventListener("change", () => {
    if (els["try-file"].files.length) tryPhoto(els["try-file"].files[0]);
  });
  if (!MAY_TEACH) return;

  els["add-class"].addEventListener("click", addClass);
  els.train.addEventListener("click", train);
  els["delete-model"].addEventListener("click", deleteModel);
  els["class-cards"].addEventListener("input", (event) => {
    const slot = slots.find((s) => s.card.contains(event.target));
    if (slot) updateCard(slot); // the buttons' names say the class's new name
  });
  document.addEventListener("paste", (event) => {
    const pictures = pastedPictures(event);
    if (!pictures.length) return;
    event.preventDefault();
    const slot = pasteTarget();
    if (slot) addPhotos(slot, pictures, "upload");
    else showError("Point at a class, or click it, to paste photos into it.");
  });
  // A file dropped beside a card must not navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  window.addEventListener("pagehide", () => stopCamera(false));
})();
