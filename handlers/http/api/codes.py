"""The API's error codes, with the HTTP status each comes with.

400 for what is not a JSON request at all; 422 for a JSON body that breaks a rule (the field
is named); 409 for a conflict with the shop's state; 413 for a body over the limit.
"""

from __future__ import annotations

MALFORMED_JSON = "malformed_json"  # 400: not JSON, or not a JSON object
BAD_REQUEST = "bad_request"  # 400: other unreadable requests
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415: not application/json
INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"  # 400: empty or over 255 characters
UNAUTHORIZED = "unauthorized"  # 401: token missing, unknown or revoked (which one is not said)
NOT_FOUND = "not_found"  # 404
METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
BODY_TOO_LARGE = "body_too_large"  # 413
INVALID = "invalid"  # 422: a field is wrong; "field" names it
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # 422: same key, another body
DUPLICATE = "duplicate"  # 409: an order with this external_id exists already
IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"  # 409: same key, first still running
BUSY = "busy"  # 503: the database stayed busy; retry (with the same Idempotency-Key)
INTERNAL = "internal"  # 500

ALL = {
    MALFORMED_JSON: 400,
    BAD_REQUEST: 400,
    INVALID_IDEMPOTENCY_KEY: 400,
    UNAUTHORIZED: 401,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    DUPLICATE: 409,
    IDEMPOTENCY_IN_PROGRESS: 409,
    BODY_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    INVALID: 422,
    IDEMPOTENCY_KEY_REUSED: 422,
    INTERNAL: 500,
    BUSY: 503,
}
