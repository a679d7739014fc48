// Small behaviours of the staff pages, kept out of the templates so that the Content-Security-Policy
// needs no inline script: <button data-confirm="question"> asks before submitting its form, and
// <select data-fill="element-id"> copies the chosen option's value into that field.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-fill]");
  const target = select && document.getElementById(select.dataset.fill);
  if (target) {
    target.value = select.value;
  }
});

// A journey step shows only the fields of its kind: <fieldset data-step-fields='{"wait": ["wait_days"], …}'>
// around <div data-field="name"> wrappers and a select named …-kind. Without script every field shows.
function showStepFields(fieldset) {
  const kind = fieldset.querySelector("select[name$='-kind']");
  const shown = JSON.parse(fieldset.dataset.stepFields)[kind.value] || [];
  fieldset.querySelectorAll("[data-field]").forEach((wrapper) => {
    const name = wrapper.dataset.field;
    wrapper.hidden = name !== "kind" && !shown.includes(name) && !wrapper.querySelector(".error");
  });
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("fieldset[data-step-fields]").forEach(showStepFields);
});
document.addEventListener("change", (event) => {
  const fieldset = event.target.closest("fieldset[data-step-fields]");
  if (fieldset && event.target.name && event.target.name.endsWith("-kind")) {
    showStepFields(fieldset);
  }
});
