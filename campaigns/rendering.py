"""Campaign subjects and bodies: the Django template language in a sandbox.

The engine has no template loaders or tag libraries beyond the built-ins, refuses tags that reach
outside the message (include, extends, load, debug, url, csrf_token, lorem), autoescapes HTML bodies
(|safe and {% autoescape off %} are refused) and renders an unknown variable as an empty string.
Templates are also checked when saved and previewed: a variable that is not in the context is
refused, so "{{ name }}" can never reach a customer.

Limits, so that no template exhausts a web process or a worker: the source size; filters that can
grow a value are bounded (campaigns.template_sandbox); every rendered part has an output budget
(counted as the leaf nodes produce text, so a loop stops at the limit instead of building the whole
string) and all parts of one mail share a render deadline. At save the templates are rendered once
with a sample of the largest values; at preview and send with the real customer.
"""

import re
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from html import escape, unescape
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, Variable, VariableNode
from django.template.defaulttags import ForNode, WithNode
from django.utils.translation import gettext as _

from .template_sandbox import TemplateLimitExceeded

CUSTOMER_FIELDS = ("family_name", "given_name", "points_balance", "tier", "home_store", "points_expiring")
PRODUCT_FIELDS = ("sku", "name", "brand", "price", "category")
# `coupon` is filled in journey mails after an "issue a coupon" step (empty elsewhere).
ROOT_VARIABLES = ("customer", "unsubscribe_url", "preferences_url", "products", "campaign_name", "coupon")
FORBIDDEN_TAGS = {
    "include", "extends", "load", "debug", "url", "csrf_token", "block", "ssi", "static", "autoescape", "lorem",
}  # fmt: skip
# Customer data (names typed at a counter or through the API) must stay escaped in an HTML body.
FORBIDDEN_FILTERS = {"safe", "safeseq"}
_FORBIDDEN_NODES = (
    "IncludeNode", "ExtendsNode", "LoadNode", "DebugNode", "URLNode", "CsrfTokenNode", "BlockNode",
    "AutoEscapeControlNode", "LoremNode",
)  # fmt: skip
# Source and rendered sizes in characters; CAMPAIGNS_* settings of the same name override them.
MAX_SOURCE_CHARS = 200_000
MAX_OUTPUT_CHARS = {"subject": 1_000, "body_text": 500_000, "body_html": 1_000_000, "line_text": 5_000}
RENDER_SECONDS = 1.0  # all parts of one mail together


def root_variables() -> set[str]:
    """The built-in variables and those other apps register per recipient (crm.registry)."""
    from crm.registry import mail_variables

    return {*ROOT_VARIABLES, *(v.name for v in mail_variables())}


_TAG_RE = re.compile(r"{%\s*(\w+)")
_HREF_RE = re.compile(r"""href\s*=\s*(["'])(https?://[^"'\s<>]+)\1""", re.IGNORECASE)
_TEXT_URL_RE = re.compile(r"https?://[^\s<>\"'{}]+")


def _engine(autoescape: bool) -> Engine:
    return Engine(
        dirs=[],
        app_dirs=False,
        loaders=[("django.template.loaders.locmem.Loader", {})],
        string_if_invalid="",
        autoescape=autoescape,
        libraries={},
        builtins=["campaigns.template_sandbox"],
        debug=False,
    )


HTML_ENGINE = _engine(True)
TEXT_ENGINE = _engine(False)


@lru_cache(maxsize=64)
def compile_template(source: str, *, html: bool) -> Template:
    """Parse once per distinct source (a batch renders the same template thousands of times)."""
    for tag in _TAG_RE.findall(source):
        if tag in FORBIDDEN_TAGS:
            raise TemplateSyntaxError(_("The tag {%% %(tag)s %%} is not allowed in campaigns.") % {"tag": tag})
    template = (HTML_ENGINE if html else TEXT_ENGINE).from_string(source)
    for node in template.nodelist.get_nodes_by_type(Node):
        leaf = not any(getattr(node, attr, None) for attr in node.child_nodelists)
        node.render_annotated = partial(_render_within_budget, node.render_annotated, leaf)
    return template


class _Budget:
    """What one rendering of one part may still produce, and when the mail's rendering must end."""

    __slots__ = ("chars", "deadline", "until_clock")
    CLOCK_EVERY = 32  # nodes between two looks at the clock (a look costs more than a node)

    def __init__(self, chars: int, deadline: float):
        self.chars, self.deadline, self.until_clock = chars, deadline, 0


def _render_within_budget(render, leaf: bool, context) -> str:
    """Every node of a campaign template renders through here (only render_mail renders them, with a
    budget): the deadline is checked every few nodes, so within every loop, and text is counted where
    it is produced (the leaves), before a loop or a block joins it into something larger."""
    budget = getattr(context, "template_budget", None)
    if budget is None:  # rendered outside render_mail/render_text: no limits to keep
        return render(context)
    budget.until_clock -= 1
    if budget.until_clock < 0:
        budget.until_clock = budget.CLOCK_EVERY
        if time.monotonic() > budget.deadline:
            raise TemplateLimitExceeded(_("The template takes too long to render."))
    output = render(context)
    if leaf:
        budget.chars -= len(output)
        if budget.chars < 0:
            raise TemplateLimitExceeded(_("The rendered text is larger than allowed."))
    return output


def _limit(name: str, default):
    return getattr(settings, f"CAMPAIGNS_{name}", default)


def _render_part(field: str, source: str, *, html: bool, context: dict, deadline: float) -> str:
    """Render one part within its budget; any failure is a ValidationError naming the field."""
    ctx = Context(context, autoescape=html)
    ctx.template_budget = _Budget(_limit("MAX_OUTPUT_CHARS", MAX_OUTPUT_CHARS)[field], deadline)
    try:
        return compile_template(source, html=html).render(ctx)
    except TemplateLimitExceeded as exc:
        raise ValidationError({field: [str(exc)]}) from exc
    except (TemplateSyntaxError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        raise ValidationError({field: [_("This template cannot be rendered: %(error)s") % {"error": exc}]}) from exc


def _variables(expression: FilterExpression) -> list[Variable]:
    found = [expression.var] if isinstance(expression.var, Variable) else []
    for _func, args in expression.filters:
        found += [arg for lookup, arg in args if lookup and isinstance(arg, Variable)]
    return found


def _check_nodes(nodelist, known: set[str], problems: list[str]) -> None:
    for node in nodelist:
        if type(node).__name__ in _FORBIDDEN_NODES:
            problems.append(_("This tag is not allowed in campaigns."))
            continue
        for expression in _node_expressions(node):
            _check_filters(expression, problems)
        scope = set(known)
        if isinstance(node, ForNode):
            _check_expression(node.sequence, known, problems)
            scope |= set(node.loopvars) | {"forloop"}
        elif isinstance(node, WithNode):
            for value in node.extra_context.values():
                _check_expression(value, known, problems)
            scope |= set(node.extra_context)
        elif isinstance(node, VariableNode):
            _check_expression(node.filter_expression, known, problems)
        for condition, _nodes in getattr(node, "conditions_nodelists", ()):
            if condition is not None:
                _check_condition(condition, known, problems)
        for attr in getattr(node, "child_nodelists", ()):
            child = getattr(node, attr, None)
            if child:
                _check_nodes(child, scope, problems)


def _check_condition(condition, known, problems) -> None:
    # An {% if %} condition is a small tree of operators whose leaves hold FilterExpressions.
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        _check_expression(value, known, problems)
    for side in ("first", "second"):
        child = getattr(condition, side, None)
        if child is not None:
            _check_condition(child, known, problems)


def _node_expressions(node):
    """Every filter expression a tag holds ({{ }}, firstof, cycle, with, for, widthratio...)."""
    for value in vars(node).values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
        yield from (item for item in items if isinstance(item, FilterExpression))


def _check_filters(expression: FilterExpression, problems: list[str]) -> None:
    for func, _args in expression.filters:
        name = getattr(func, "_filter_name", "")
        if name in FORBIDDEN_FILTERS:
            problems.append(_("The filter “%(name)s” is not allowed in campaigns.") % {"name": name})


def _check_expression(expression, known: set[str], problems: list[str]) -> None:
    if not isinstance(expression, FilterExpression):
        return
    for var in _variables(expression):
        lookups = var.lookups or ()
        if not lookups:
            continue  # a literal
        root, rest = lookups[0], lookups[1:]
        if root not in known:
            problems.append(_("Unknown variable “%(name)s”.") % {"name": var.var})
        elif root == "customer" and (not rest or rest[0] not in CUSTOMER_FIELDS):
            problems.append(
                _("Unknown variable “%(name)s”; customer has: %(fields)s.")
                % {"name": var.var, "fields": ", ".join(CUSTOMER_FIELDS)}
            )


def check_template(source: str, *, html: bool) -> list[str]:
    """Problems with one subject/body template (syntax, forbidden tags, unknown variables)."""
    try:
        template = compile_template(source, html=html)
    except TemplateSyntaxError as exc:
        return [str(exc)]
    problems: list[str] = []
    nodelist = template.nodelist
    _check_nodes(nodelist, root_variables(), problems)
    return list(dict.fromkeys(problems))


def check_campaign_templates(*, subject: str, body_text: str, body_html: str) -> None:
    """Raise ValidationError naming each field whose template does not compile."""
    errors = {}
    max_source = _limit("MAX_SOURCE_CHARS", MAX_SOURCE_CHARS)
    for name, source, html in (
        ("subject", subject, False),
        ("body_text", body_text, False),
        ("body_html", body_html, True),
    ):
        if not source:
            continue
        if len(source) > max_source:
            errors[name] = [_("At most %(n)d characters.") % {"n": max_source}]
            continue
        problems = check_template(source, html=html)
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationError(errors)
    # A trial rendering with the largest values a customer and the featured products can hold.
    render_mail(subject=subject, body_text=body_text, body_html=body_html, context=LARGEST_CONTEXT)


def _largest_context() -> dict:
    name = "あ" * 50  # the longest name a customer can have
    customer = dict.fromkeys(CUSTOMER_FIELDS, name) | {"points_balance": 10**9, "points_expiring": 10**9}
    product = {"sku": "S" * 64, "name": "N" * 200, "brand": "B" * 64, "price": 10**8, "category": "C" * 64}
    return {
        "customer": customer, "unsubscribe_url": "https://" + "u" * 200, "products": [product] * 20,
        "campaign_name": "C" * 200, "preferences_url": "https://" + "p" * 200,
        "coupon": {"code": "C" * 12, "printed": "C" * 14, "offer": "O" * 200, "valid_until": "2099-12-31",
                   "qr_url": "https://" + "q" * 300},
    }  # fmt: skip


LARGEST_CONTEXT = _largest_context()


def campaign_links(*, body_text: str, body_html: str) -> set[str]:
    """Every http(s) URL written in the campaign's bodies: the only places a click may redirect to."""
    links = {unescape(m.group(2)) for m in _HREF_RE.finditer(body_html or "")}
    links |= {m.group(0).rstrip(".,)") for m in _TEXT_URL_RE.finditer(body_text or "")}
    return {link for link in links if urlsplit(link).netloc}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render_text(source: str, *, context: dict, field: str) -> str:
    """One plain-text part (a LINE message) within its limits; ValidationError naming `field` otherwise."""
    deadline = time.monotonic() + _limit("RENDER_SECONDS", RENDER_SECONDS)
    return str.__str__(_render_part(field, source, html=False, context=context, deadline=deadline))


def render_mail(*, subject: str, body_text: str, body_html: str, context: dict, link_wrapper=None) -> RenderedMail:
    """Render the three parts within their limits (ValidationError naming the part otherwise);
    `link_wrapper(url) -> tracked url` rewrites links in the HTML body."""
    deadline = time.monotonic() + _limit("RENDER_SECONDS", RENDER_SECONDS)
    part = partial(_render_part, context=context, deadline=deadline)
    rendered_subject = " ".join(part("subject", subject, html=False).split())
    # A text part is not HTML: drop the "safe" mark Django's render() puts on it, so that a staff page
    # printing it escapes it like any other string.
    text = str.__str__(part("body_text", body_text, html=False))
    html = ""
    if body_html:
        html = part("body_html", body_html, html=True)
        if link_wrapper is not None:
            html = _HREF_RE.sub(lambda m: f'href="{escape(link_wrapper(unescape(m.group(2))), quote=True)}"', html)
    return RenderedMail(rendered_subject, text, html)
