// A long multiple select (an audience's countries) made usable without Ctrl-click: a box that
// narrows the options as you type, a click that ticks or unticks one option, and the chosen ones
// named beneath. The <select> itself stays as Django renders it, so the form posts as before.
"use strict";

// Loaded in the page's head (the form's Media): wait for the form.
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("select[multiple].cp-searchable").forEach((select) => {
  const search = document.createElement("input");
  search.type = "search";
  search.placeholder = "Type to narrow the list…";
  search.className = "cp-searchable-filter";
  search.setAttribute("aria-controls", select.id);
  const chosen = document.createElement("p");
  chosen.className = "cp-searchable-chosen";
  chosen.style.cssText = "margin:0;padding:0;font-size:0.8125rem;color:var(--body-quiet-color)";
  const box = document.createElement("div"); // one column, in the admin's row of label and field
  box.style.cssText = "display:flex;flex-direction:column;gap:4px;width:22em;max-width:100%";
  select.before(box);
  box.append(search, select, chosen);
  select.style.width = "100%";

  const showChosen = () => {
    const names = Array.from(select.selectedOptions, (option) => option.text);
    chosen.textContent = names.length ? `Chosen (${names.length}): ${names.join(", ")}` : "None chosen: every one.";
  };
  search.addEventListener("input", () => {
    const words = search.value.trim().toLowerCase();
    for (const option of select.options) {
      option.hidden = Boolean(words) && !`${option.text} ${option.value}`.toLowerCase().includes(words);
    }
  });
  select.addEventListener("mousedown", (event) => {
    if (event.target.tagName !== "OPTION") return;
    event.preventDefault(); // a plain click ticks or unticks this one, leaving the others
    event.target.selected = !event.target.selected;
    select.focus();
    showChosen();
  });
  select.addEventListener("change", showChosen);
  showChosen();
}));
