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
