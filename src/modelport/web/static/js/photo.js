// A form that asks a model, with JavaScript on: the answer comes from the JSON API and is
// shown without leaving the page. Without JavaScript the form POSTs and the server renders the
// same markup. The form says what it sends and where:
//   data-predict="file"    a picture: chosen, dropped or pasted, and shown at once (/photo and
//                          a photo model's page), sent as a multipart "file";
//   data-predict="fields"  a table row (a tabular model's page): one field per feature, marked
//                          data-feature="number" or "category", sent as JSON {"inputs": {...}};
//   data-endpoint          the model's predict URL; data-model its name;
//   data-labels            its classes for the feedback widget (fetched when left out).
// Example photos (buttons .example-photo, data-src their file) are sent as an upload would be.
// On a phone the columns stack, so the answer (or the error) is scrolled into view.
(() => {
  "use strict";
  const form = document.querySelector("form[data-predict]");
  if (!form) return;
  const endpoint = form.dataset.endpoint;
  if (!endpoint) return; // no model on this server: the page already says so
  const sendsFile = form.dataset.predict === "file";
  const labels = form.dataset.labels ? JSON.parse(form.dataset.labels) : undefined;
  const input = document.getElementById("file");
  const els = Object.fromEntries(
    ["dropzone", "preview", "preview-figure", "preview-name", "error", "busy", "placeholder",
     "result", "best", "unsure", "bars", "meta", "feedback", "bar-template", "remove", "submit"]
      .map((id) => [id, document.getElementById(id)])
  );
  const HIGHLIGHT = ["border-primary", "bg-primary-subtle"];
  const STACKED = window.matchMedia("(max-width: 767.98px)"); // Bootstrap's md columns stack
  const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)");
  let previewUrl = null;
  let inflight = null;
  let current = null; // the file being classified
  let answered = null; // the file whose answer is shown: "Classify" again would only repeat it

  function show(id, visible) {
    els[id].classList.toggle("d-none", !visible);
  }

  // Side by side the answer is beside the form; stacked, it is below it, out of sight.
  function revealAnswer() {
    if (!STACKED.matches) return;
    const card = els.result.closest(".card") || els.result;
    card.scrollIntoView({ behavior: REDUCED_MOTION.matches ? "auto" : "smooth", block: "start" });
  }

  function showError(message) {
    els.error.textContent = message;
    show("error", true);
    show("busy", false);
    show("result", false);
    show("placeholder", false);
    if (sendsFile) {
      // A damaged file may half-decode into a grey preview: show the message alone.
      show("preview-figure", false);
      answered = null;
      show("submit", true);
    }
    revealAnswer();
  }

  function showPreview(file) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    els["preview-name"].textContent = file.name || "pasted image";
    if (file.type.startsWith("image/")) {
      previewUrl = URL.createObjectURL(file);
      els.preview.src = previewUrl;
      show("preview-figure", true);
      show("remove", true);
    } else {
      els.preview.removeAttribute("src");
      show("preview-figure", false);
    }
  }

  function barRow(label, percent, best) {
    return window.modelportBars.row(els["bar-template"], label, percent, best);
  }

  function showResult(answer) {
    const rows = answer.predictions.map((p, i) => barRow(p.label, 100 * p.score, i === 0));
    els.bars.replaceChildren(...rows);
    els.best.textContent = answer.predictions.length ? answer.predictions[0].label : "";
    // "not sure" below the same threshold as the server-rendered page (and /draw): 0.6.
    const below = Number(els.unsure.dataset.below || 0.6);
    const top = answer.predictions.length ? answer.predictions[0].score : 1;
    els.unsure.classList.toggle("d-none", top >= below);
    els.meta.textContent = `${answer.model} ${answer.version} · ${Math.round(answer.latency_ms)} ms`;
    els.result.dataset.predictionId = answer.id || "";
    if (sendsFile) {
      answered = current;
      show("submit", false); // answered already; choosing another photo asks again
    }
    mountFeedback(answer.id, answer.model, els.best.textContent);
    show("busy", false);
    show("error", false);
    show("result", true);
    revealAnswer();
  }

  function mountFeedback(predictionId, model, predicted) {
    if (!window.modelportFeedback || !predictionId) {
      els.feedback.replaceChildren();
      return;
    }
    window.modelportFeedback.mount(els.feedback, { predictionId, model, predicted, labels });
  }

  function classify(file) {
    if (!file) {
      showError("Choose a photo first.");
      return;
    }
    if (file === answered && !els.result.classList.contains("d-none")) return; // no duplicate
    current = file;
    showPreview(file);
    const body = new FormData();
    body.append("file", file, file.name || "pasted-image");
    ask(body, {});
  }

  // The form's fields as a row: numbers as numbers; a field left empty is left out, so
  // the answer names the missing feature.
  function row() {
    const values = {};
    for (const field of form.querySelectorAll("[data-feature]")) {
      const text = field.value.trim();
      if (text === "") continue;
      values[field.name] = field.dataset.feature === "number" ? Number(text) : text;
    }
    return values;
  }

  function markInvalid(detail) {
    for (const field of form.querySelectorAll("[data-feature]")) {
      const named = detail.includes(`'${field.name}'`) || detail.includes(`"${field.name}"`);
      field.classList.toggle("is-invalid", named);
    }
  }

  async function ask(body, headers) {
    show("error", false);
    show("placeholder", false);
    show("result", false);
    show("busy", true);
    if (inflight) inflight.abort();
    const mine = new AbortController();
    inflight = mine;
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        body,
        headers: { Accept: "application/json", ...headers },
        signal: mine.signal,
      });
      const answer = await response.json().catch(() => ({}));
      if (inflight !== mine) return;
      if (!sendsFile) markInvalid(response.ok ? "" : answer.detail || "");
      if (!response.ok) {
        showError(answer.detail || `That did not work (HTTP ${response.status}).`);
      } else {
        showResult(answer);
      }
    } catch (error) {
      if (error.name !== "AbortError") showError("The server could not be reached. Please try again.");
    }
  }

  function useFile(file) {
    // Put the file in the form too, so that "Classify" and a form POST see it.
    try {
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
    } catch (_) {
      // Older browsers cannot set input.files; the fetch below does not need it.
    }
    classify(file);
  }

  // A result rendered by the server (the form was posted before this script ran).
  if (els.result.dataset.predictionId) {
    mountFeedback(els.result.dataset.predictionId, form.dataset.model, els.best.textContent);
  }

  if (!sendsFile) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(JSON.stringify({ inputs: row() }), { "Content-Type": "application/json" });
    });
    return;
  }

  // A file named like an image that is not one: no broken-image icon, the message says why.
  els.preview.addEventListener("error", () => show("preview-figure", false));

  // With JavaScript the drop zone is the file picker (it is the input's label): the native
  // input is hidden, and the zone takes the keyboard instead.
  input.classList.add("d-none");
  form.noValidate = true; // a hidden "required" input cannot show the browser's bubble
  els.dropzone.tabIndex = 0;
  els.dropzone.setAttribute("role", "button");
  els.dropzone.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    input.click();
  });

  function removePhoto() {
    if (inflight) inflight.abort();
    inflight = null;
    current = null;
    answered = null;
    input.value = "";
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    els.preview.removeAttribute("src");
    els["preview-name"].textContent = "";
    els.result.dataset.predictionId = "";
    els.feedback.replaceChildren();
    ["preview-figure", "remove", "result", "error", "busy"].forEach((id) => show(id, false));
    show("placeholder", true);
    show("submit", true);
    els.dropzone.focus();
  }
  els.remove.addEventListener("click", removePhoto);
  if (!els["preview-figure"].classList.contains("d-none")) show("remove", true);

  input.addEventListener("change", () => {
    if (input.files.length) classify(input.files[0]);
  });

  // An example is fetched and sent as the file itself (without JavaScript it posts its name).
  async function tryExample(button) {
    try {
      const response = await fetch(button.dataset.src);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      useFile(new File([blob], button.value, { type: blob.type || "image/jpeg" }));
    } catch (_) {
      showError("The example photo could not be loaded. Please try again.");
    }
  }
  for (const button of form.querySelectorAll(".example-photo")) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      tryExample(button);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    classify(input.files[0]);
  });

  const zone = els.dropzone;
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add(...HIGHLIGHT);
    })
  );
  ["dragleave", "dragend"].forEach((type) =>
    zone.addEventListener(type, () => zone.classList.remove(...HIGHLIGHT))
  );
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove(...HIGHLIGHT);
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) useFile(file);
    else showError("Drop a picture file from your computer.");
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  document.addEventListener("paste", (event) => {
    const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
    const item = items.find((i) => i.kind === "file");
    if (!item) return;
    event.preventDefault();
    const file = item.getAsFile();
    if (file) useFile(file);
  });
})();
