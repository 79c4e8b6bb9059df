"""Domain errors, raised anywhere and turned into HTTP answers in one place (``web/errors.py``).

Each carries a message for the person who made the request: what was wrong and what to do.
"""

from __future__ import annotations


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


class Unprocessable(CddgisError):
    """The content is well-formed but invalid for the layer; ``problems`` lists why."""

    status = 422
    code = "InvalidContent"

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class Unavailable(CddgisError):
    """A service we depend on (the database) is not answering; the request may be retried."""

    status = 503
    code = "ServiceUnavailable"
