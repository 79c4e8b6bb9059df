"""Domain errors, raised anywhere and turned into HTTP answers in one place (``web/errors.py``).

Each carries a message for the person who made the request: what was wrong and what to do.
"""

from __future__ import annotations

import logging
import secrets


def own_words(exc: BaseException) -> str:
    """What to tell a person about ``exc``: a domain error's own message; for anything else
    (a library's or a driver's text, which can hold server paths or the failed value) a
    sentence of ours with an error id, logged here with the exception under that id."""
    if isinstance(exc, CddgisError):
        return exc.message
    error_id = secrets.token_hex(6)
    exc.add_note(f"error id {error_id}")
    logging.getLogger("cddgis").error("error id %s: %s", error_id, type(exc).__name__,
                                      exc_info=exc)
    return InternalError(error_id).message


class CddgisError(Exception):
    """Base of the errors a request can end with; ``status`` is the HTTP status it maps to."""

    status = 500
    code = "InternalServerError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadParameter(CddgisError):
    """A request parameter (or an uploaded value) is not acceptable; the message names it."""

    status = 400
    code = "InvalidParameterValue"


class NotFound(CddgisError):
    """The thing asked for does not exist (a collection, an item, an indicator)."""

    status = 404
    code = "NotFound"


class Conflict(CddgisError):
    """The change collides with the current state (e.g. someone else changed it first)."""

    status = 409
    code = "Conflict"


class Unauthorized(CddgisError):
    """No valid credentials (API token or session) for something that needs them."""

    status = 401
    code = "Unauthorized"


class Forbidden(CddgisError):
    """Signed in, but the account's scope does not cover this layer, province or action."""

    status = 403
    code = "Forbidden"


class PreconditionFailed(CddgisError):
    """``If-Match`` names a version that is no longer current: someone changed it first."""

    status = 412
    code = "PreconditionFailed"


class PreconditionRequired(CddgisError):
    """A write without ``If-Match``: the client must say which version it changes."""

    status = 428
    code = "PreconditionRequired"


class MethodNotAllowed(CddgisError):
    """The resource exists but cannot be changed this way (e.g. a boundary collection)."""

    status = 405
    code = "MethodNotAllowed"


class UnsupportedMediaType(CddgisError):
    """A request body (or uploaded file) of a type the endpoint does not read."""

    status = 415
    code = "UnsupportedMediaType"


class TooLarge(CddgisError):
    """An uploaded file larger than its limit (a photo over CDDGIS_MAX_PHOTO_MB)."""

    status = 413
    code = "RequestEntityTooLarge"


class Unprocessable(CddgisError):
    """The content is well-formed but invalid for the layer; ``problems`` lists why."""

    status = 422
    code = "InvalidContent"

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class UnstorableValue(Unprocessable):
    """A value the database cannot hold (a number too large, NaN, a bad date, text too long) or
    a rule of the data it breaks; ``column`` names the field where the database names it."""

    def __init__(self, message: str, column: str | None = None):
        super().__init__(message)
        self.column = column


class Unavailable(CddgisError):
    """A service we depend on (the database) is not answering; the request may be retried
    after ``retry_after_s`` seconds (the answer's Retry-After)."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self, message: str, retry_after_s: int = 5):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueryTimeout(CddgisError):
    """The database stopped the statement at its time limit: the request asked for too much."""

    status = 504
    code = "QueryTimeout"


class InternalError(CddgisError):
    """Something went wrong on our side — a statement the database refused for a reason that is
    our fault (a bug in our SQL, a missing grant), or any unexpected exception: ``error_id`` is
    in the answer and in the log line that says more."""

    status = 500
    code = "InternalServerError"

    def __init__(self, error_id: str):
        super().__init__(f"เกิดข้อผิดพลาดในระบบ รหัส {error_id} / Something went wrong on our side "
                         f"(error id {error_id}); it has been logged. Tell the team this id.")
        self.error_id = error_id
