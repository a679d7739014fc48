// The segment builder: conditions picked from the field catalogue (the page's "segment-catalogue"
// JSON), nested AND/OR groups and exclusions, all read from and written to the same rules JSON the
// API takes (the form's #id_rules). Every change asks for the live count; htmx waits 400 ms after
// the last one (hx-trigger "rules-changed delay:400ms") before posting. Problems come back from the
// server in words, tagged with their rule's path, and are shown beside the condition they concern.
(function () {
  "use strict";

  function start() {
    const form = document.getElementById("segment-form");
    const mount = document.getElementById("segment-builder");
    const area = document.getElementById("id_rules");
    const data = document.getElementById("segment-catalogue");
    if (!form || !mount || !area || !data) {
      return;
    }
    const catalogue = JSON.parse(data.textContent);
    const text = catalogue.text;
    const fields = Object.fromEntries(catalogue.fields.map((f) => [f.name, f]));
    const valuesUrl = form.dataset.valuesUrl;
    const labelCache = new Map(); // "source:value" -> label shown on the chip
    const MAX_GROUP_DEPTH = 4;
    let root = null;
    let uid = 0;

    // --- the tree: rules JSON <-> nodes ------------------------------------------------------------
    function parse(node) {
      if (!node || typeof node !== "object" || Array.isArray(node)) {
        return null;
      }
      const keys = Object.keys(node);
      if (keys.length === 1 && keys[0] === "not") {
        const inner = parse(node.not);
        if (!inner) {
          return null;
        }
        if (inner.negate) {
          return { type: "group", match: "all", negate: true, children: [inner] };
        }
        inner.negate = true;
        return inner;
      }
      if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any")) {
        if (!Array.isArray(node[keys[0]])) {
          return null;
        }
        const children = node[keys[0]].map(parse);
        if (children.some((c) => !c)) {
          return null;
        }
        return { type: "group", match: keys[0], negate: false, children };
      }
      if ("field" in node) {
        const filters = {};
        for (const [key, value] of Object.entries(node)) {
          if (!["field", "op", "value"].includes(key)) {
            filters[key] = value;
          }
        }
        return { type: "cond", negate: false, field: node.field, op: node.op, value: node.value, filters };
      }
      return null;
    }

    function serialize(node) {
      let out;
      if (node.type === "group") {
        out = { [node.match]: node.children.map(serialize) };
      } else {
        out = { field: node.field, op: node.op, value: node.value };
        for (const [key, value] of Object.entries(node.filters)) {
          if (value !== "" && value !== null && value !== undefined) {
            out[key] = value;
          }
        }
      }
      return node.negate ? { not: out } : out;
    }

    function newCondition() {
      const field = catalogue.fields[0];
      return { type: "cond", negate: false, field: field.name, op: field.ops[0].value, value: defaultValue(field, field.ops[0].value), filters: {} };
    }

    function defaultValue(field, op) {
      if (field.kind === "bool") {
        return true;
      }
      if (op === "in") {
        return [];
      }
      return "";
    }

    function changed() {
      area.value = JSON.stringify(serialize(root), null, 2);
      document.getElementById("segment-live").dispatchEvent(new Event("rules-changed"));
    }

    // --- small DOM helpers -------------------------------------------------------------------------
    function el(tag, attrs, children) {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(attrs || {})) {
        if (key === "text") {
          node.textContent = value;
        } else if (key === "class") {
          node.className = value;
        } else if (value !== undefined && value !== null && value !== false) {
          node.setAttribute(key, value === true ? "" : value);
        }
      }
      for (const child of children || []) {
        if (child) {
          node.append(child);
        }
      }
      return node;
    }

    function select(options, value, attrs) {
      const node = el("select", attrs);
      for (const option of options) {
        if (option.group) {
          const group = el("optgroup", { label: option.group });
          option.options.forEach((o) => group.append(new Option(o.label, o.value)));
          node.append(group);
        } else {
          node.append(new Option(option.label, option.value));
        }
      }
      node.value = value === undefined || value === null ? "" : String(value);
      return node;
    }

    function button(label, className, onClick, attrs) {
      const node = el("button", Object.assign({ type: "button", class: className, text: label }, attrs || {}));
      node.addEventListener("click", onClick);
      return node;
    }

    // --- a searchable picker of one or several values ----------------------------------------------
    // Values come from the server (a store, tier, category, brand, SKU…) or from a fixed list (months).
    // Typing a value that is not offered and leaving the box keeps it: the server then says, in words,
    // that it is unknown, rather than the segment silently matching nobody.
    function picker({ source, fixed, multiple, values, label, onChange }) {
      const id = "picker-" + ++uid;
      const box = el("div", { class: "picker" });
      const chips = el("ul", { class: "chips" });
      const input = el("input", {
        type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
        "aria-controls": id, "aria-label": label, placeholder: text.search, autocomplete: "off",
      });
      const list = el("ul", { id, role: "listbox", class: "picker-options", hidden: true });
      box.append(chips, input, list);
      let current = values.slice();
      let options = [];
      let active = -1;
      let timer = null;
      let request = 0;

      const labelOf = (value) => {
        if (fixed) {
          const option = fixed.find((o) => String(o.value) === String(value));
          return option ? option.label : String(value);
        }
        return labelCache.get(source + ":" + value) || String(value);
      };

      function drawChips() {
        chips.replaceChildren();
        current.forEach((value, index) => {
          const remove = button("×", "chip-remove", () => {
            current.splice(index, 1);
            drawChips();
            onChange(current.slice());
          }, { "aria-label": text.remove + " " + labelOf(value) });
          chips.append(el("li", { class: "chip" }, [el("span", { text: labelOf(value) }), remove]));
        });
        input.hidden = !multiple && current.length > 0;
      }

      function pick(value) {
        if (multiple) {
          if (!current.some((v) => String(v) === String(value))) {
            current.push(value);
          }
        } else {
          current = [value];
        }
        input.value = "";
        close();
        drawChips();
        onChange(current.slice());
        if (multiple) {
          input.focus();
        }
      }

      function close() {
        list.hidden = true;
        input.setAttribute("aria-expanded", "false");
        input.removeAttribute("aria-activedescendant");
        active = -1;
      }

      function drawOptions() {
        list.replaceChildren();
        if (!options.length) {
          list.append(el("li", { class: "muted", text: text.no_match }));
        }
        options.forEach((option, index) => {
          const item = el("li", { id: id + "-" + index, role: "option", text: option.label, "aria-selected": index === active ? "true" : "false" });
          item.addEventListener("mousedown", (event) => {
            event.preventDefault();
            pick(option.value);
          });
          list.append(item);
        });
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        if (active >= 0) {
          input.setAttribute("aria-activedescendant", id + "-" + active);
        }
      }

      function search() {
        const query = input.value.trim();
        if (fixed) {
          options = fixed.filter((o) => o.label.toLowerCase().includes(query.toLowerCase()));
          active = -1;
          drawOptions();
          return;
        }
        const mine = ++request;
        fetch(valuesUrl.replace("__source__", source) + "?q=" + encodeURIComponent(query), {
          credentials: "same-origin", headers: { Accept: "application/json" },
        })
          .then((response) => (response.ok ? response.json() : { results: [] }))
          .then((body) => {
            if (mine !== request || document.activeElement !== input) {
              return;
            }
            body.results.forEach((r) => labelCache.set(source + ":" + r.value, r.label));
            options = body.results;
            active = -1;
            drawOptions();
          })
          .catch(() => {});
      }

      function commitTyped() {
        const typed = input.value.trim();
        if (!typed) {
          return;
        }
        const same = options.find((o) => o.label.toLowerCase() === typed.toLowerCase() || String(o.value).toLowerCase() === typed.toLowerCase());
        if (same) {
          pick(same.value);
        } else if (!fixed) {
          pick(typed);
        }
      }

      input.addEventListener("focus", search);
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(search, 200);
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          if (list.hidden) {
            search();
            return;
          }
          const step = event.key === "ArrowDown" ? 1 : -1;
          active = Math.max(0, Math.min(options.length - 1, active + step));
          drawOptions();
        } else if (event.key === "Enter") {
          event.preventDefault();
          if (active >= 0 && options[active]) {
            pick(options[active].value);
          } else {
            commitTyped();
          }
        } else if (event.key === "Escape") {
          close();
        } else if (event.key === "Backspace" && !input.value && current.length) {
          current.pop();
          drawChips();
          onChange(current.slice());
        }
      });
      input.addEventListener("blur", () => {
        setTimeout(() => {
          close();
          commitTyped();
        }, 150);
      });

      // Chips of a saved segment show names (Shibuya (SHB)), not the codes stored in the rules.
      if (!fixed) {
        current.filter((v) => !labelCache.has(source + ":" + v)).forEach((value) => {
          fetch(valuesUrl.replace("__source__", source) + "?q=" + encodeURIComponent(value), {
            credentials: "same-origin", headers: { Accept: "application/json" },
          })
            .then((response) => (response.ok ? response.json() : { results: [] }))
            .then((body) => {
              body.results.forEach((r) => labelCache.set(source + ":" + r.value, r.label));
              drawChips();
            })
            .catch(() => {});
        });
      }
      drawChips();
      return box;
    }

    // --- drawing the tree --------------------------------------------------------------------------
    function fieldOptions() {
      const groups = [];
      for (const field of catalogue.fields) {
        let group = groups.find((g) => g.group === field.group);
        if (!group) {
          group = { group: field.group, options: [] };
          groups.push(group);
        }
        group.options.push({ value: field.name, label: field.label });
      }
      return groups;
    }

    function valueControl(node, field, path) {
      const label = field.label + " — " + text.value;
      if (field.kind === "bool") {
        const control = select([{ value: "true", label: text.yes }, { value: "false", label: text.no }], String(node.value === true), { "aria-label": label, "data-path": path });
        control.addEventListener("change", () => {
          node.value = control.value === "true";
          changed();
        });
        return control;
      }
      if (field.kind === "int") {
        const control = el("input", { type: "number", min: 0, max: field.max, step: 1, inputmode: "numeric", "aria-label": label, "data-path": path, class: "rule-number" });
        control.value = node.value === "" || node.value === null || node.value === undefined ? "" : node.value;
        control.addEventListener("input", () => {
          node.value = control.value === "" || Number.isNaN(control.valueAsNumber) ? "" : control.valueAsNumber;
          changed();
        });
        const wrap = el("span", { class: "rule-value" }, [control]);
        if (field.unit) {
          wrap.append(el("span", { class: "unit", text: field.unit }));
        }
        return wrap;
      }
      const multiple = node.op === "in";
      const values = multiple ? (Array.isArray(node.value) ? node.value : [node.value].filter((v) => v !== "")) : (node.value === "" || node.value === undefined ? [] : [node.value]);
      const box = picker({
        source: field.source,
        fixed: field.kind === "month" ? catalogue.months : null,
        multiple,
        values,
        label,
        onChange: (picked) => {
          node.value = multiple ? picked : (picked.length ? picked[0] : "");
          changed();
        },
      });
      box.dataset.path = path;
      return box;
    }

    function filterControl(node, field, filter, path) {
      const value = node.filters[filter.name];
      const label = field.label + " — " + filter.label;
      let control;
      if (filter.kind === "choice") {
        control = select([{ value: "", label: text.any_value }].concat(filter.choices), value, { "aria-label": label, "data-path": path });
        control.addEventListener("change", () => {
          node.filters[filter.name] = control.value;
          changed();
        });
      } else if (filter.kind === "days") {
        control = el("input", { type: "number", min: 1, max: catalogue.max_days, step: 1, inputmode: "numeric", "aria-label": label, "data-path": path, class: "rule-number" });
        control.value = value === undefined ? "" : value;
        control.addEventListener("input", () => {
          node.filters[filter.name] = control.value === "" || Number.isNaN(control.valueAsNumber) ? "" : control.valueAsNumber;
          changed();
        });
      } else {
        control = picker({
          source: filter.source, fixed: null, multiple: false, values: value ? [value] : [], label,
          onChange: (picked) => {
            node.filters[filter.name] = picked.length ? picked[0] : "";
            changed();
          },
        });
        control.dataset.path = path;
      }
      return el("label", { class: "rule-filter" }, [el("span", { text: filter.label }), control]);
    }

    function negateToggle(node) {
      const box = el("input", { type: "checkbox", role: "switch", title: text.exclude_help });
      box.checked = node.negate;
      box.addEventListener("change", () => {
        node.negate = box.checked;
        draw();
        changed();
      });
      return el("label", { class: "rule-negate", title: text.exclude_help }, [box, document.createTextNode(text.exclude)]);
    }

    function drawCondition(node, parent, path) {
      const inner = node.negate ? path + ".not" : path;
      const field = fields[node.field];
      const box = el("div", { class: "rule-cond" + (node.negate ? " negated" : ""), "data-path": inner });
      const line = el("div", { class: "rule-line" });
      const options = fieldOptions();
      if (!field) {
        options.unshift({ value: node.field, label: String(node.field) });
      }
      const fieldSelect = select(options, node.field, { "aria-label": text.field, class: "rule-field", "data-path": inner + ".field" });
      fieldSelect.addEventListener("change", () => {
        const next = fields[fieldSelect.value];
        node.field = next.name;
        node.op = next.ops[0].value;
        node.value = defaultValue(next, node.op);
        node.filters = {};
        draw();
        changed();
      });
      line.append(fieldSelect);
      if (field) {
        const opSelect = select(field.ops, node.op, { "aria-label": text.comparison, class: "rule-op", "data-path": inner + ".op" });
        if (field.ops.length === 1) {
          opSelect.hidden = true;
          line.append(el("span", { class: "rule-op-word", text: field.ops[0].label }));
        }
        opSelect.addEventListener("change", () => {
          const before = node.op;
          node.op = opSelect.value;
          if (before !== "in" && node.op === "in") {
            node.value = node.value === "" || node.value === undefined ? [] : [node.value];
          } else if (before === "in" && node.op !== "in") {
            node.value = Array.isArray(node.value) && node.value.length ? node.value[0] : "";
          }
          draw();
          changed();
        });
        line.append(opSelect, valueControl(node, field, inner + ".value"));
      }
      line.append(negateToggle(node), button("×", "outline secondary rule-remove", () => {
        parent.children.splice(parent.children.indexOf(node), 1);
        draw();
        changed();
      }, { "aria-label": text.remove, title: text.remove }));
      box.append(line);
      if (field && field.filters.length) {
        box.append(el("div", { class: "rule-filters" }, field.filters.map((f) => filterControl(node, field, f, inner + "." + f.name))));
      }
      box.append(el("p", { class: "rule-error", hidden: true, role: "status" }));
      return box;
    }

    function drawGroup(node, parent, path, depth) {
      const inner = node.negate ? path + ".not" : path;
      const box = el("fieldset", { class: "rule-group" + (node.negate ? " negated" : "") + (depth ? " nested" : ""), "data-path": inner });
      const match = select([{ value: "all", label: text.all }, { value: "any", label: text.any }], node.match, { "aria-label": text.match, class: "rule-match" });
      match.addEventListener("change", () => {
        node.match = match.value;
        draw();
        changed();
      });
      const head = el("div", { class: "rule-group-head" }, [el("span", { text: text.match }), match, negateToggle(node)]);
      if (parent) {
        head.append(button(text.remove_group, "outline secondary rule-remove-group", () => {
          parent.children.splice(parent.children.indexOf(node), 1);
          draw();
          changed();
        }));
      }
      box.append(head);
      const children = el("div", { class: "rule-children" });
      if (!node.children.length) {
        children.append(el("p", { class: "muted", text: text.empty_group }));
      }
      node.children.forEach((child, index) => {
        const childPath = inner + "." + node.match + "." + index;
        children.append(child.type === "group" ? drawGroup(child, node, childPath, depth + 1) : drawCondition(child, node, childPath));
      });
      box.append(children);
      const actions = el("div", { class: "rule-group-actions" }, [
        button(text.add_condition, "outline", () => {
          node.children.push(newCondition());
          draw();
          changed();
        }),
      ]);
      if (depth < MAX_GROUP_DEPTH) {
        actions.append(button(text.add_group, "outline secondary", () => {
          node.children.push({ type: "group", match: node.match === "all" ? "any" : "all", negate: false, children: [newCondition()] });
          draw();
          changed();
        }));
      }
      box.append(actions, el("p", { class: "rule-error", hidden: true, role: "status" }));
      return box;
    }

    function draw() {
      mount.replaceChildren(drawGroup(root, null, "rules", 0));
    }

    function load() {
      let tree;
      try {
        tree = JSON.parse(area.value || '{"all": []}');
      } catch (error) {
        return false;
      }
      let node = parse(tree);
      if (node && node.type === "cond") {
        node = { type: "group", match: "all", negate: false, children: [node] };
      }
      if (!node) {
        return false;
      }
      root = node;
      draw();
      return true;
    }

    // --- problems from the live count, shown where they are -----------------------------------------
    function showErrors() {
      mount.querySelectorAll(".rule-error").forEach((p) => {
        p.hidden = true;
        p.textContent = "";
      });
      mount.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
      document.querySelectorAll("#segment-preview [data-path]").forEach((item) => {
        const path = item.dataset.path;
        if (!path) {
          return;
        }
        const exact = mount.querySelector('[data-path="' + CSS.escape(path) + '"]:not(.rule-cond):not(.rule-group)');
        if (exact) {
          exact.setAttribute("aria-invalid", "true");
        }
        let owner = null;
        mount.querySelectorAll(".rule-cond, .rule-group").forEach((box) => {
          const p = box.dataset.path;
          if ((path === p || path.startsWith(p + ".")) && (!owner || p.length > owner.dataset.path.length)) {
            owner = box;
          }
        });
        if (owner) {
          const message = owner.querySelector(":scope > .rule-error");
          message.hidden = false;
          const problem = item.querySelector(".problem");
          message.textContent = (message.textContent ? message.textContent + " " : "") + (problem ? problem.textContent : item.textContent);
        }
      });
    }

    const note = el("p", { class: "muted", hidden: true, text: text.not_pickers });
    mount.before(note);
    if (!load()) {
      note.hidden = false;
      mount.hidden = true;
      form.querySelector(".rules-json").open = true;
    }
    area.addEventListener("input", () => {
      const ok = load();
      note.hidden = ok;
      mount.hidden = !ok;
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target && event.detail.target.id === "segment-preview") {
        showErrors();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
