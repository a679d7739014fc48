"""The segment rules in the marketer's words: the field catalogue the builder's pickers are made of
(fields, comparisons, filters and where their values come from) and rule errors said in words
("Condition 2 (Bought) › Category: …") instead of paths (`rules.all.1.category`). The API keeps
the paths (shared/API.md, Segments); the staff pages read this."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import SalesChannel

from .segments import FIELDS, MAX_DAYS, MAX_LIST, SOURCES

OP_LABELS = {
    "eq": gettext_lazy("is"),
    "in": gettext_lazy("is one of"),
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
}
FILTER_LABELS = {
    "sku": gettext_lazy("Product"),
    "category": gettext_lazy("Category"),
    "brand": gettext_lazy("Brand"),
    "channel": gettext_lazy("Sales channel"),
    "within_days": gettext_lazy("In the last (days)"),
}
MONTHS = (
    gettext_lazy("January"), gettext_lazy("February"), gettext_lazy("March"), gettext_lazy("April"),
    gettext_lazy("May"), gettext_lazy("June"), gettext_lazy("July"), gettext_lazy("August"),
    gettext_lazy("September"), gettext_lazy("October"), gettext_lazy("November"), gettext_lazy("December"),
)  # fmt: skip
SEARCH_LIMIT = 20


def field_catalogue() -> dict:
    """What the builder's script draws its pickers from, in the current language (JSON-ready)."""
    channel_labels = dict(SalesChannel.choices)
    fields = []
    for spec in FIELDS.values():
        filters = []
        for key, flt in spec.filters.items():
            entry = {"name": key, "label": str(FILTER_LABELS.get(key, key)), "kind": flt.kind, "source": flt.source}
            if flt.kind == "choice":
                entry["choices"] = [{"value": c, "label": str(channel_labels.get(c, c))} for c in flt.choices]
            filters.append(entry)
        fields.append(
            {
                "name": spec.name,
                "label": str(spec.label),
                "group": str(spec.group),
                "ops": [{"value": op, "label": str(OP_LABELS[op])} for op in spec.ops],
                "kind": spec.value,
                "source": spec.source,
                "unit": str(spec.unit),
                "max": spec.max_value,
                "filters": filters,
            }
        )
    return {
        "fields": fields,
        "months": [{"value": i, "label": str(label)} for i, label in enumerate(MONTHS, start=1)],
        "max_days": MAX_DAYS,
        "max_list": MAX_LIST,
        "text": {
            "all": _("All of these (AND)"),
            "any": _("Any of these (OR)"),
            "match": _("Customers who match"),
            "exclude": _("Exclude"),
            "exclude_help": _("Leave out the customers who match this"),
            "add_condition": _("Add condition"),
            "add_group": _("Add group"),
            "remove": _("Remove"),
            "remove_group": _("Remove group"),
            "field": _("Field"),
            "comparison": _("Comparison"),
            "value": _("Value"),
            "yes": _("Yes"),
            "no": _("No"),
            "any_value": _("Any"),
            "search": _("Type to search"),
            "no_match": _("Nothing found"),
            "empty_group": _("No conditions yet: add one."),
            "not_pickers": _("These rules cannot be shown as pickers; edit them as JSON below."),
            "pick_month": _("Choose a month"),
        },
    }


def search_values(source_name: str, text: str) -> list[dict] | None:
    """Up to 20 values of a picker's source matching what was typed; None for an unknown source."""
    source = SOURCES.get(source_name)
    if source is None:
        return None
    return [{"value": v, "label": label} for v, label in source.search(text.strip()[:100], SEARCH_LIMIT)]


# --- Errors in words --------------------------------------------------------------------------------
def describe_errors(rules, errors: dict[str, list[str]]) -> list[dict]:
    """[{path, where, message}] for ValidationError.message_dict of validate_rules / check_rule_values:
    where in the tree, in words, and the message, with codes replaced by the labels the builder shows."""
    described = []
    for path, messages in errors.items():
        where, spec, key = _locate(rules, path)
        for message in messages:
            described.append({"path": path, "where": where, "message": _staff_message(spec, key, message, where)})
    return described


def _is_group(node) -> bool:
    """An AND/OR group; an excluded condition ({"not": condition}) is still a condition to the marketer."""
    while isinstance(node, dict) and set(node) == {"not"}:
        node = node["not"]
    return isinstance(node, dict) and any(k in node for k in ("all", "any"))


def _locate(rules, path: str):
    """(words for the place, the condition's FieldSpec or None, the condition key the error is about)."""
    tokens = path.split(".")[1:] if path.startswith("rules") else path.split(".")
    parts, node, i = [], rules, 0
    while i < len(tokens):
        step = tokens[i]
        if step in ("all", "any") and i + 1 < len(tokens) and tokens[i + 1].isdigit() and isinstance(node, dict):
            index = int(tokens[i + 1])
            children = node.get(step)
            child = children[index] if isinstance(children, list) and index < len(children) else None
            parts.append((_("Group %(n)d") if _is_group(child) else _("Condition %(n)d")) % {"n": index + 1})
            node, i = child, i + 2
        elif step == "not" and isinstance(node, dict) and "not" in node:
            node, i = node["not"], i + 1
        else:
            break
    key = tokens[i] if i < len(tokens) else ""
    spec = None
    if isinstance(node, dict) and not _is_group(node) and "not" not in node:
        spec = FIELDS.get(node.get("field")) if isinstance(node.get("field"), str) else None
        if spec is not None:
            if parts:
                parts[-1] = f"{parts[-1]} ({spec.label})"
            else:
                parts.append(str(spec.label))
    if key in FILTER_LABELS and spec is not None and key in spec.filters:
        parts.append(str(FILTER_LABELS[key]))
    if not parts:
        parts.append(_("Rules"))
    return " › ".join(str(p) for p in parts), spec, key


def _staff_message(spec, key: str, message: str, where: str) -> str:
    if key == "field":
        return _("Choose a field from the list.")
    if key == "op":
        if spec is None:
            return _("Choose a comparison from the list.")
        return _("Choose one of: %(ops)s.") % {"ops": ", ".join(str(OP_LABELS[op]) for op in spec.ops)}
    if key in ("all", "any"):
        if spec is None and where == _("Rules"):
            return _("Add at least one condition.")
        return _("This group is empty: add a condition to it or remove it.")
    if spec is not None and key not in ("", "value") and key not in spec.filters:
        return _("This condition takes no such filter; remove it.")
    if key == "channel" and spec is not None:
        labels = dict(SalesChannel.choices)
        return _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(str(labels.get(c, c)) for c in spec.filters["channel"].choices)
        }
    return str(message)
