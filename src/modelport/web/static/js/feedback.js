// "Right" / "Wrong? It is: ..." under a prediction, posting to /api/v1/predictions/<id>/feedback.
//
//   window.modelportFeedback.mount(container, {predictionId, model, labels, predicted})
//
// Models with a handful of labels (the digits) get a picker of buttons; models with many
// (ImageNet's 1000) get a search box over their labels. When `labels` is left out they are
// fetched from GET /api/v1/models/<model>. Mounting again replaces the previous widget.
(function () {
  "use strict";

  const PICKER_MAX = 12;
  const labelCache = new Map();
  let serial = 0;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  async function labelsOf(model) {
    if (!labelCache.has(model)) {
      const request = fetch("/api/v1/models/" + encodeURIComponent(model))
        .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
        .then((body) => body.labels || []);
      labelCache.set(model, request);
      request.catch(() => labelCache.delete(model));
    }
    return labelCache.get(model);
  }

  // A prediction is stored a moment after it is answered (by whichever server process made
  // it), and the server waits for it only a quarter of a second: a 404 is tried once more.
  const RETRY_AFTER_MS = 700;

  async function send(predictionId, label, retried) {
    const response = await fetch(
      "/api/v1/predictions/" + encodeURIComponent(predictionId) + "/feedback",
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ label: label }),
      },
    );
    if (response.status === 404 && !retried) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
      return send(predictionId, label, true);
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || "The feedback could not be sent.");
    return body;
  }

  function mount(container, options) {
    const { predictionId, model, predicted } = options;
    const id = "mp-feedback-" + ++serial;
    const status = el("div", { class: "small mt-2", role: "status", "aria-live": "polite" });
    const right = el("button", {
      type: "button",
      class: "btn btn-sm btn-outline-success",
      "data-feedback": "right",
      text: "Right",
    });
    const wrong = el("button", {
      type: "button",
      class: "btn btn-sm btn-outline-danger",
      "data-feedback": "wrong",
      "aria-expanded": "false",
      "aria-controls": id + "-choices",
      text: "Wrong? It is: …",
    });
    const choices = el("div", { id: id + "-choices", class: "mt-2", hidden: "" });
    const root = el("div", { class: "mp-feedback", "data-prediction-id": predictionId }, [
      el("div", { class: "d-flex flex-wrap align-items-center gap-2" }, [
        el("span", { class: "small text-secondary", text: "Is this right?" }),
        right,
        wrong,
      ]),
      choices,
      status,
    ]);
    container.replaceChildren(root);

    function say(text, kind) {
      status.className = "small mt-2 text-" + (kind || "secondary");
      status.textContent = text;
    }

    async function answer(label) {
      for (const button of root.querySelectorAll("button, input")) button.disabled = true;
      say("Sending…");
      try {
        const result = await send(predictionId, label);
        say(
          result.is_correct
            ? "Thanks: marked right."
            : "Thanks: recorded as " + result.label + "." +
                (result.learned
                  ? " The model has learned it."
                  : result.suggestion
                    ? " It is a suggestion until an operator reviews it."
                    : ""),
          "success",
        );
        root.dataset.sent = result.label;
        choices.hidden = true;
      } catch (error) {
        say(error.message, "danger");
        for (const button of root.querySelectorAll("button, input")) button.disabled = false;
      }
    }

    function showPicker(labels) {
      const group = el("div", {
        class: "d-flex flex-wrap gap-1",
        role: "group",
        "aria-label": "The right answer",
      });
      for (const label of labels) {
        if (label === predicted) continue;
        const button = el("button", {
          type: "button",
          class: "btn btn-sm btn-outline-secondary mp-feedback-choice",
          "data-label": label,
          text: label,
        });
        button.addEventListener("click", () => answer(label));
        group.append(button);
      }
      choices.replaceChildren(group);
    }

    function showSearch(labels) {
      const listId = id + "-labels";
      const input = el("input", {
        class: "form-control form-control-sm",
        list: listId,
        id: id + "-search",
        placeholder: "Type to search the classes",
        autocomplete: "off",
      });
      const datalist = el("datalist", { id: listId });
      datalist.append(...labels.map((label) => el("option", { value: label })));
      const submit = el("button", { type: "submit", class: "btn btn-sm btn-primary", text: "Send" });
      const form = el("form", { class: "d-flex gap-2", novalidate: "" }, [
        el("label", { class: "visually-hidden", for: id + "-search", text: "The right class" }),
        input,
        datalist,
        submit,
      ]);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const label = input.value.trim();
        if (!labels.includes(label)) {
          say("Pick one of the model's classes from the list.", "danger");
          return;
        }
        answer(label);
      });
      choices.replaceChildren(form);
    }

    right.addEventListener("click", () => answer(predicted));
    wrong.addEventListener("click", async () => {
      if (!choices.hidden) {
        choices.hidden = true;
        wrong.setAttribute("aria-expanded", "false");
        return;
      }
      try {
        const labels = options.labels || (await labelsOf(model));
        if (labels.length <= PICKER_MAX) showPicker(labels);
        else showSearch(labels);
        choices.hidden = false;
        wrong.setAttribute("aria-expanded", "true");
        // Focus only once the box is shown: a hidden input cannot take the focus.
        const search = choices.querySelector("input");
        if (search) search.focus();
      } catch (error) {
        say("The model's classes could not be loaded.", "danger");
      }
    });
    return root;
  }

  // Pages can also say where feedback goes without script of their own: a button with
  // data-feedback-for="<prediction id>", data-model and data-predicted is replaced by the
  // widget when clicked (the history page does this for rows nobody has judged yet).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-feedback-for]");
    if (!button) return;
    const widget = mount(button.parentElement, {
      predictionId: button.dataset.feedbackFor,
      model: button.dataset.model,
      predicted: button.dataset.predicted,
    });
    widget.querySelector("button").focus();
  });

  // The history page's Right / Wrong forms work without script (they post, and the page
  // comes back); with it, each becomes that button and is answered in place.
  function giveFeedbackButton(forms) {
    return el("button", {
      type: "button",
      class: "btn btn-link btn-sm p-0",
      "data-feedback-for": forms.dataset.feedbackFor,
      "data-model": forms.dataset.model,
      "data-predicted": forms.dataset.predicted,
      text: "Give feedback",
    });
  }

  for (const forms of document.querySelectorAll(".history-feedback-forms[data-feedback-for]")) {
    forms.replaceWith(giveFeedbackButton(forms));
  }

  window.modelportFeedback = { mount: mount };
})();
