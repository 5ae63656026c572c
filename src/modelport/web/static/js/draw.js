// A drawing area (/draw and a sketch model's page): pointer input on a canvas, debounced
// predictions, Undo and Clear. The area's element says where drawings go and for which model:
//   <div id="draw-app" data-endpoint="/api/predict" data-model="digits" data-labels='["0", ...]'>
// The endpoint answers as /api/predict does (probabilities in label order, top, preview). On
// /draw a <select id="model"> chooses the model instead of data-model. Without data-labels the
// classes are the digits, by their index.
(() => {
  "use strict";
  const UNSURE_BELOW = 0.6;
  const DEBOUNCE_MS = 200;
  const ALL_BARS_UP_TO = 12; // more classes than this: only the top ones get a bar
  const TOP_BARS = 10;

  const canvas = document.getElementById("pad");
  const ctx = canvas.getContext("2d");
  const app = canvas.closest("[data-endpoint]");
  const endpoint = (app && app.dataset.endpoint) || "/api/predict";
  const modelSelect = document.getElementById("model");
  const labels = app && app.dataset.labels ? JSON.parse(app.dataset.labels) : null;
  const modelName = () => (modelSelect ? modelSelect.value : app.dataset.model);
  const els = Object.fromEntries(
    ["error", "placeholder", "result", "digit", "unsure", "top3", "preview", "bars", "meta", "feedback"]
      .map((id) => [id, document.getElementById(id)])
  );

  const strokes = [];
  let current = null;
  let timer = null;
  let sequence = 0;
  let inflight = null;

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    redraw();
  }

  function strokeWidth() {
    return Math.max(6, canvas.width / 16);
  }

  function pointFrom(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) / rect.width) * canvas.width,
      ((event.clientY - rect.top) / rect.height) * canvas.height,
    ];
  }

  function drawStroke(stroke) {
    ctx.lineWidth = stroke.width * (canvas.width / stroke.canvasWidth);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    const scale = canvas.width / stroke.canvasWidth;
    const pts = stroke.points.map(([x, y]) => [x * scale, y * scale]);
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(pts[0][0], pts[0][1]);
    for (const [x, y] of pts.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    strokes.forEach(drawStroke);
    if (current) drawStroke(current);
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = { points: [pointFrom(event)], width: strokeWidth(), canvasWidth: canvas.width };
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) current.points.push(pointFrom(e));
    redraw();
    schedule();
  });
  const finish = (event) => {
    if (!current) return;
    event.preventDefault();
    strokes.push(current);
    current = null;
    redraw();
    schedule(0);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("touchmove", (event) => event.preventDefault(), { passive: false });

  function undo() {
    strokes.pop();
    redraw();
    strokes.length ? schedule(0) : showEmpty();
  }
  function clear() {
    strokes.length = 0;
    current = null;
    redraw();
    showEmpty();
  }
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("clear").addEventListener("click", clear);
  if (modelSelect) {
    modelSelect.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("model", modelSelect.value);
      window.history.replaceState(null, "", url);
      if (strokes.length) schedule(0);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Escape" || event.key === "Delete") {
      clear();
    }
  });

  function schedule(delay = DEBOUNCE_MS) {
    clearTimeout(timer);
    timer = setTimeout(predict, delay);
  }

  function showEmpty() {
    clearTimeout(timer);
    sequence += 1;
    if (inflight) inflight.abort();
    els.result.classList.add("d-none");
    els.error.classList.add("d-none");
    els.placeholder.classList.remove("d-none");
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.classList.remove("d-none");
  }

  async function predict() {
    if (!strokes.length && !current) return;
    const mine = ++sequence;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ image: canvas.toDataURL("image/png"), model: modelName() }),
        signal: inflight.signal,
      });
      const body = await response.json();
      if (mine !== sequence) return;
      if (!response.ok) {
        if (body.error === "empty_drawing") return showEmpty();
        return showError(body.detail || "The prediction failed.");
      }
      render(body);
    } catch (error) {
      if (error.name !== "AbortError" && mine === sequence) {
        showError("Could not reach the server. Check your connection and draw again.");
      }
    }
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
    if (window.modelportFeedback && body.id) {
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
