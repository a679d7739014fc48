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
    "429": "Throttled, or too many attempts (too_many_attempts); see Retry-After",
}
WRITE_ERROR_STATUSES = {
    "409": "Conflict (e.g. identity_conflict, insufficient_points, out_of_stock, idempotency_in_progress)",
    "413": "The body is larger than 5 MB (request_too_large)",
    "415": "The body is not of the documented media type (unsupported_media_type)",
    "422": "Unprocessable (e.g. idempotency_conflict, proof_mismatch)",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255}


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
    """Postprocessing hook: every operation documents its problem+json error answers (writes also
    413 and 415), 429's Retry-After header, and the Idempotency-Key header's bounds."""
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
            operation["responses"]["429"].setdefault("headers", RETRY_AFTER)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                    parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
    return result
