// A drawing area (/draw and a sketch model's page): pointer input on a canvas, answers while
// the pen moves, brush sizes, an eraser, example drawings, Undo and Clear. The area's element
// says where drawings go and for which model:
//   <div id="draw-app" data-endpoint="/api/predict" data-model="digits" data-labels='["0", ...]'>
// The endpoint answers as /api/predict does (probabilities in label order, top, preview). On
// /draw a <select id="model"> chooses the model instead of data-model. Without data-labels the
// classes are the digits, by their index.
(() => {
  "use strict";
  const UNSURE_BELOW = 0.6;
  // While the pen moves: one request at a time, at most one every LIVE_EVERY_MS. Each one is
  // stored in the history like any prediction (the API has no way to ask otherwise), so
  // this is kept coarse. The pen lifting always asks at once (or right after the one out).
  const LIVE_EVERY_MS = 400;
  const ALL_BARS_UP_TO = 12; // more classes than this: only the top ones get a bar
  const TOP_BARS = 10;
  // Pen widths as a share of the canvas's width; the eraser is twice the pen.
  const BRUSHES = { thin: 1 / 28, medium: 1 / 16, thick: 1 / 10 };
  const MIN_WIDTH = 3;
  const ERASER_SCALE = 2;
  // As the server counts a drawing empty: fewer than 4 pixels of ink a quarter strong.
  const MIN_INK_PIXELS = 4;
  const FAINT_ALPHA = 64;

  const canvas = document.getElementById("pad");
  const ctx = canvas.getContext("2d", { willReadFrequently: true }); // hasInk reads it back
  const app = canvas.closest("[data-endpoint]");
  const endpoint = (app && app.dataset.endpoint) || "/api/predict";
  const modelSelect = document.getElementById("model");
  const eraserButton = document.getElementById("eraser");
  const brushButtons = [...document.querySelectorAll("[data-brush]")];
  const labels = app && app.dataset.labels ? JSON.parse(app.dataset.labels) : null;
  const modelName = () => (modelSelect ? modelSelect.value : app.dataset.model);
  const els = Object.fromEntries(
    ["error", "placeholder", "result", "digit", "unsure", "top3", "preview", "bars", "meta", "feedback"]
      .map((id) => [id, document.getElementById(id)])
  );

  // Each entry is something Undo takes back: a pen or eraser stroke, or an example drawing.
  const strokes = [];
  let current = null;
  let brush = "medium";
  let erasing = false;

  app.classList.add("draw-ready"); // shows the canvas and its tools (hidden without script)

  // ---- Drawing -------------------------------------------------------------------------

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    redraw();
  }

  function strokeWidth() {
    const width = Math.max(MIN_WIDTH, canvas.width * BRUSHES[brush]);
    return erasing ? width * ERASER_SCALE : width;
  }

  function pointFrom(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) / rect.width) * canvas.width,
      ((event.clientY - rect.top) / rect.height) * canvas.height,
    ];
  }

  function drawStroke(stroke) {
    if (stroke.image) return drawExample(stroke);
    const scale = canvas.width / stroke.canvasWidth;
    ctx.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
    ctx.lineWidth = stroke.width * scale;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    const pts = stroke.points.map(([x, y]) => [x * scale, y * scale]);
    ctx.beginPath();
    if (pts.length === 1) {
      ctx.arc(pts[0][0], pts[0][1], ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (const [x, y] of pts.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = "source-over";
  }

  // An example replaces what was drawn before it (Undo brings that back).
  function drawExample(stroke) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(stroke.image, 0, 0, canvas.width, canvas.height);
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    strokes.forEach(drawStroke);
    if (current) drawStroke(current);
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = {
      points: [pointFrom(event)],
      width: strokeWidth(),
      erase: erasing,
      canvasWidth: canvas.width,
    };
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) current.points.push(pointFrom(e));
    redraw();
    answerSoon();
  });
  const finish = (event) => {
    if (!current) return;
    event.preventDefault();
    strokes.push(current);
    current = null;
    redraw();
    answerNow();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("touchmove", (event) => event.preventDefault(), { passive: false });

  // ---- Tools ---------------------------------------------------------------------------

  function chooseBrush(name) {
    brush = name;
    for (const button of brushButtons) {
      const chosen = button.dataset.brush === name;
      button.classList.toggle("active", chosen);
      button.setAttribute("aria-pressed", String(chosen));
    }
  }

  function setErasing(on) {
    erasing = on;
    if (!eraserButton) return;
    eraserButton.classList.toggle("active", on);
    eraserButton.setAttribute("aria-pressed", String(on));
    canvas.classList.toggle("erasing", on);
  }

  function undo() {
    strokes.pop();
    redraw();
    forgetAnswersOnTheWay();
    strokes.length ? answerNow() : showEmpty();
  }

  function clear() {
    strokes.length = 0;
    current = null;
    redraw();
    showEmpty();
  }

  async function loadExample(button) {
    const image = new Image();
    image.src = button.dataset.example;
    try {
      await image.decode();
    } catch (error) {
      return showError("The example could not be loaded.");
    }
    strokes.push({ image: image });
    redraw();
    forgetAnswersOnTheWay();
    answerNow();
  }

  for (const button of brushButtons) {
    button.addEventListener("click", () => chooseBrush(button.dataset.brush));
  }
  if (eraserButton) eraserButton.addEventListener("click", () => setErasing(!erasing));
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("clear").addEventListener("click", clear);
  for (const button of document.querySelectorAll("[data-example]")) {
    button.addEventListener("click", () => loadExample(button));
  }
  if (modelSelect) {
    modelSelect.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("model", modelSelect.value);
      window.history.replaceState(null, "", url);
      forgetAnswersOnTheWay();
      if (strokes.length) answerNow();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Escape" || event.key === "Delete") {
      clear();
    } else if (key === "e" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      setErasing(!erasing);
    }
  });

  // ---- Answers -------------------------------------------------------------------------
  // Requests are numbered as they are sent; an answer is shown only if it is the newest
  // sent so far that is still wanted (Clear and Undo to nothing drop any on the way).

  let sent = 0; // requests sent
  let wantedFrom = 1; // answers to requests numbered below this are dropped
  let inflight = null; // {number, controller} of the request on its way
  let again = false; // the drawing changed while a request was out: ask once it is back
  let lastSentAt = -Infinity;
  let timer = null;

  function answerSoon() {
    if (inflight) {
      again = true;
      return;
    }
    if (timer) return;
    const wait = Math.max(0, lastSentAt + LIVE_EVERY_MS - performance.now());
    timer = setTimeout(() => {
      timer = null;
      predict();
    }, wait);
  }

  function answerNow() {
    clearTimeout(timer);
    timer = null;
    if (inflight) again = true;
    else predict();
  }

  // After Undo, an example or another model, an answer on its way is to a drawing gone.
  function forgetAnswersOnTheWay() {
    wantedFrom = sent + 1;
  }

  function showEmpty() {
    clearTimeout(timer);
    timer = null;
    again = false;
    forgetAnswersOnTheWay();
    if (inflight) inflight.controller.abort();
    inflight = null;
    showNothingDrawn();
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.classList.remove("d-none");
  }

  // Erased down to nothing: the server would refuse it as empty, so it is not asked.
  function hasInk() {
    const alpha = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < alpha.length && inked < MIN_INK_PIXELS; i += 4) {
      if (alpha[i] > FAINT_ALPHA) inked += 1;
    }
    return inked >= MIN_INK_PIXELS;
  }

  async function predict() {
    if (!strokes.length && !current) return;
    if (!hasInk()) return showNothingDrawn();
    const mine = { number: ++sent, controller: new AbortController() };
    inflight = mine;
    again = false;
    lastSentAt = performance.now();
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        // Answers while the pen is still down are drafts: shown, not stored in the history.
        body: JSON.stringify({
          image: canvas.toDataURL("image/png"),
          model: modelName(),
          draft: current !== null,
        }),
        signal: mine.controller.signal,
      });
      const body = await response.json();
      if (mine.number >= wantedFrom) show(response, body);
    } catch (error) {
      if (error.name !== "AbortError" && mine.number >= wantedFrom) {
        showError("Could not reach the server. Check your connection and draw again.");
      }
    } finally {
      if (inflight === mine) {
        inflight = null;
        if (again) (current ? answerSoon : predict)();
      }
    }
  }

  function show(response, body) {
    if (response.ok) return render(body);
    if (body.error === "empty_drawing") return showNothingDrawn();
    showError(body.detail || "The prediction failed.");
  }

  function showNothingDrawn() {
    els.result.classList.add("d-none");
    els.error.classList.add("d-none");
    els.placeholder.classList.remove("d-none");
  }

  function percent(p) {
    return `${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
  }

  function render(body) {
    els.error.classList.add("d-none");
    els.placeholder.classList.add("d-none");
    els.result.classList.remove("d-none");
    const best = body.top[0];
    els.digit.textContent = body.digit;
    els.unsure.classList.toggle("d-none", best.score >= UNSURE_BELOW);
    els.top3.replaceChildren(
      ...body.top.map((p) => {
        const li = document.createElement("li");
        li.innerHTML = `<span class="fw-semibold"></span> <span class="text-secondary"></span>`;
        li.children[0].textContent = p.label;
        li.children[1].textContent = percent(p.score);
        return li;
      })
    );
    if (body.preview) els.preview.src = body.preview;
    const names = labels || body.probabilities.map((_, i) => String(i));
    const bestIndex = body.probabilities.indexOf(Math.max(...body.probabilities));
    let shown = body.probabilities.map((p, index) => index);
    if (shown.length > ALL_BARS_UP_TO) {
      shown = shown.sort((a, b) => body.probabilities[b] - body.probabilities[a]).slice(0, TOP_BARS);
    }
    els.bars.classList.toggle("prob-bars-wide", names.some((name) => name.length > 3));
    els.bars.replaceChildren(
      ...shown.map((index) => {
        const p = body.probabilities[index];
        const row = document.createElement("div");
        row.className = `prob-row${index === bestIndex ? " best" : ""}`;
        row.setAttribute("role", "listitem");
        row.innerHTML =
          `<span class="prob-label"></span>` +
          `<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100">` +
          `<div class="progress-bar"></div></div><span class="prob-value small"></span>`;
        row.children[0].textContent = names[index];
        row.children[0].title = names[index];
        row.children[1].setAttribute("aria-valuenow", Math.round(p * 100));
        row.children[1].setAttribute("aria-label", labels ? names[index] : `Digit ${index}`);
        row.children[1].firstChild.style.width = `${p * 100}%`;
        row.children[2].textContent = percent(p);
        return row;
      })
    );
    els.meta.textContent = `${body.model} ${body.version} · ${body.latency_ms.toFixed(1)} ms`;
    if (!body.id) {
      els.feedback.replaceChildren(); // a draft: nothing stored to judge yet
    } else if (window.modelportFeedback) {
      window.modelportFeedback.mount(els.feedback, {
        predictionId: body.id,
        model: body.model,
        labels: names,
        predicted: String(best.label),
      });
    }
  }

  new ResizeObserver(resize).observe(canvas);
  resize();
})();
