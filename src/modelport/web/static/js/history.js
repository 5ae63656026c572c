// The history page's thumbnails open larger in a dialog. Without script each one is a plain
// link to the stored picture (the same address, so the same rules say who may see it).
(function () {
  "use strict";

  const dialog = document.getElementById("history-enlarged");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const image = document.getElementById("history-enlarged-image");
  const title = document.getElementById("history-enlarged-title");
  let opener = null;

  function enlarge(link) {
    const thumbnail = link.closest("td").querySelector(".history-thumb");
    image.src = link.href;
    image.alt = thumbnail.alt;
    title.textContent = thumbnail.alt;
    // A drawing is a few hundred pixels: shown larger, its pixels stay sharp squares.
    image.classList.toggle("history-enlarged-pixelated", link.dataset.enlarge === "sketch");
    opener = link;
    dialog.showModal();
  }

  function opensElsewhere(event) {
    return event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-enlarge]");
    if (!link || opensElsewhere(event)) return;
    event.preventDefault();
    enlarge(link);
  });

  // A click on the backdrop lands on the dialog itself, not on its content.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });

  dialog.addEventListener("close", () => {
    if (opener) opener.focus();
    opener = null;
  });
})();
