"""The API's error codes, with the HTTP status each comes with.

400 for what is not a JSON request at all; 422 for a JSON body that breaks a rule (the field
is named); 409 for a conflict with the order's or the shop's state; 413 for a body over the
limit. An order refused by the service answers with its problem's own code
(services/refusals.py), through `PROBLEM_STATUS`, which names every problem.
"""

from __future__ import annotations

from services.refusals import Problem

# The HTTP edge's own codes.
MALFORMED_JSON = "malformed_json"  # 400: not JSON, or not a JSON object
BAD_REQUEST = "bad_request"  # 400: other unreadable requests
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415: not application/json
INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"  # 400: empty or over 255 characters
UNAUTHORIZED = "unauthorized"  # 401: token missing, unknown or revoked (which one is not said)
METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
BODY_TOO_LARGE = "body_too_large"  # 413
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # 422: same key, another body
IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"  # 409: same key, first still running
RATE_LIMITED = "rate_limited"  # 429: too many requests with this token (Retry-After)
INTERNAL = "internal"  # 500

# The order service's problems are API codes of their own name.
NOT_FOUND = str(Problem.NOT_FOUND)  # 404
INVALID = str(Problem.INVALID)  # 422: a field is wrong; "field" names it
DUPLICATE = str(Problem.DUPLICATE)  # 409: an order with this external_id exists already
BUSY = str(Problem.BUSY)  # 503: the database stayed busy; retry (with the same Idempotency-Key)
SHOP_SUSPENDED = str(Problem.SHOP_SUSPENDED)  # 403: the operator suspended the shop
OUT_OF_STOCK = str(Problem.OUT_OF_STOCK)  # 409: lines beyond the stock; "skus" names them

# Every problem the order service may answer, with its HTTP status. Exhaustive: a new
# problem fails tests/unit/test_refusal_vocabulary.py until it has its status here.
PROBLEM_STATUS: dict[Problem, int] = {
    Problem.UNKNOWN_ACTION: 422,
    Problem.ORDER_CLOSED: 409,
    Problem.ALREADY_DONE: 409,
    Problem.NOT_AVAILABLE: 409,
    Problem.NOT_FOR_THIS_ORDER: 409,
    Problem.FORBIDDEN: 403,
    Problem.INPUT_MISSING: 422,
    Problem.INPUT_INVALID: 422,
    Problem.NOT_FOUND: 404,
    Problem.STALE: 409,
    Problem.EDIT_NOT_ALLOWED: 409,
    Problem.INVALID: 422,
    Problem.DUPLICATE: 409,
    Problem.BUSY: 503,
    Problem.LINK_USED: 409,
    Problem.SHOP_SUSPENDED: 403,
    Problem.OUT_OF_STOCK: 409,
}

ALL: dict[str, int] = {
    MALFORMED_JSON: 400,
    BAD_REQUEST: 400,
    INVALID_IDEMPOTENCY_KEY: 400,
    UNAUTHORIZED: 401,
    METHOD_NOT_ALLOWED: 405,
    IDEMPOTENCY_IN_PROGRESS: 409,
    BODY_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    IDEMPOTENCY_KEY_REUSED: 422,
    RATE_LIMITED: 429,
    INTERNAL: 500,
    **{str(problem): status for problem, status in PROBLEM_STATUS.items()},
}
