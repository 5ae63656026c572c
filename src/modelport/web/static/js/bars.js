// One row of an answer's bars, from the page's <template id="bar-template"> (the bar_row
// macro of _predict.html): shared by the photo pages and the teaching page.
window.modelportBars = {
  row(template, label, percent, best) {
    const row = template.content.firstElementChild.cloneNode(true);
    row.classList.toggle("best", best);
    const name = row.querySelector(".bar-label");
    name.textContent = label;
    name.classList.toggle("fw-semibold", best);
    row.querySelector(".bar-percent").textContent = `${percent.toFixed(1)}%`;
    const progress = row.querySelector(".progress");
    progress.setAttribute("aria-label", label);
    progress.setAttribute("aria-valuenow", percent.toFixed(1));
    const bar = row.querySelector(".progress-bar");
    bar.style.width = `${percent}%`;
    bar.classList.toggle("bg-success", best);
    return row;
  },
};
