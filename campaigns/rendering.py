"""Campaign subjects and bodies: the Django template language in a sandbox.

The engine has no template loaders or tag libraries beyond the built-ins, refuses tags that reach
outside the message (include, extends, load, debug, url, csrf_token), autoescapes HTML bodies and
renders an unknown variable as an empty string. Templates are also checked when saved and previewed:
a variable that is not in the context is refused, so "{{ name }}" can never reach a customer.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Variable, VariableNode
from django.template.defaulttags import ForNode, WithNode
from django.utils.translation import gettext as _

CUSTOMER_FIELDS = ("family_name", "given_name", "points_balance", "tier", "home_store", "points_expiring")
PRODUCT_FIELDS = ("sku", "name", "brand", "price", "category")
ROOT_VARIABLES = ("customer", "unsubscribe_url", "products", "campaign_name")


def root_variables() -> set[str]:
    """The built-in variables and those other apps register per recipient (crm.registry)."""
    from crm.registry import mail_variables

    return {*ROOT_VARIABLES, *(v.name for v in mail_variables())}


FORBIDDEN_TAGS = {"include", "extends", "load", "debug", "url", "csrf_token", "block", "ssi", "static"}
_FORBIDDEN_NODES = ("IncludeNode", "ExtendsNode", "LoadNode", "DebugNode", "URLNode", "CsrfTokenNode", "BlockNode")
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
    return (HTML_ENGINE if html else TEXT_ENGINE).from_string(source)


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
    for name, source, html in (
        ("subject", subject, False),
        ("body_text", body_text, False),
        ("body_html", body_html, True),
    ):
        if not source:
            continue
        problems = check_template(source, html=html)
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationError(errors)


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


def render_mail(*, subject: str, body_text: str, body_html: str, context: dict, link_wrapper=None) -> RenderedMail:
    """Render the three parts; `link_wrapper(url) -> tracked url` rewrites links in the HTML body."""
    ctx = Context(context, autoescape=False)
    rendered_subject = " ".join(compile_template(subject, html=False).render(ctx).split())
    text = compile_template(body_text, html=False).render(Context(context, autoescape=False))
    html = ""
    if body_html:
        html = compile_template(body_html, html=True).render(Context(context, autoescape=True))
        if link_wrapper is not None:
            html = _HREF_RE.sub(lambda m: f'href="{escape(link_wrapper(unescape(m.group(2))), quote=True)}"', html)
    return RenderedMail(rendered_subject, text, html)
