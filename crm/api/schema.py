"""OpenAPI description of what views alone cannot tell drf-spectacular: the Api-Key scheme and the
problem+json error answers every endpoint may give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine word, e.g. validation_error, not_found."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages keyed by the field's path, e.g. lines.0.sku.",
        },
    },
}
ERROR_STATUSES = {
    "400": "Invalid input (validation_error)",
    "401": "Missing or invalid API key",
    "403": "The key lacks the scope",
    "404": "Unknown id (not_found)",
    "429": "Throttled; see Retry-After",
}
WRITE_ERROR_STATUSES = {
    "409": "Conflict (e.g. identity_conflict, insufficient_points, out_of_stock, idempotency_in_progress)",
    "422": "Unprocessable (e.g. idempotency_conflict, proof_mismatch)",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key <key>`; keys carry scopes.",
        }


def add_problem_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents its problem+json error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            statuses = dict(ERROR_STATUSES)
            if method in ("post", "put", "patch"):
                statuses |= WRITE_ERROR_STATUSES
            for status, description in statuses.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": {"application/problem+json": {"schema": ref}}}
                )
    return result
