"""Exception classes of runtel. The Rust core decides which one to raise."""

from __future__ import annotations

from typing import Any, List, Optional


class RuntelError(Exception):
    """Base class of every runtel error. ``kind`` is the stable error kind
    (``runtel._runtel._error_kinds()`` lists them, one subclass each).

    Every instance has the same attributes, None where they do not apply:
    ``code``, ``http_status``, ``msg_id``, ``message``, ``action_id``, ``body``
    and ``field_errors`` (refusals by the server), ``retry_after`` (a local
    lock-out) and ``cause`` (a transport failure); ``notifies`` (the messages
    for the user that came with a refusal) is a list, ``[]`` when there were
    none."""

    kind: str = "runtel"

    def __init__(
        self,
        text: str,
        *,
        kind: Optional[str] = None,
        code: Optional[int] = None,
        http_status: Optional[int] = None,
        msg_id: Optional[str] = None,
        message: Optional[str] = None,
        action_id: Optional[str] = None,
        body: Optional[str] = None,
        field_errors: Any = None,
        retry_after: Optional[float] = None,
        cause: Optional[str] = None,
        notifies: Optional[List[Any]] = None,
    ) -> None:
        super().__init__(text)
        if kind is not None:
            self.kind = kind
        self.code = code
        self.http_status = http_status
        self.msg_id = msg_id
        self.message = message
        self.action_id = action_id
        self.body = body
        self.field_errors = field_errors
        self.retry_after = retry_after
        self.cause = cause
        self.notifies: List[Any] = list(notifies) if notifies else []


class ApiError(RuntelError):
    """The server refused the request: ``http_status``, envelope ``code``, ``msg_id``,
    ``message``, ``action_id``, ``field_errors``, ``notifies`` (a list, as sent,
    secrets masked) and the bounded raw ``body``."""

    kind = "api"


class AuthError(ApiError):
    """The server refused the login or password. Never retried automatically."""

    kind = "auth"


class AuthLockoutError(RuntelError):
    """Logins are refused locally after too many refusals; ``retry_after`` seconds."""

    kind = "auth_lockout"


class NotAuthenticatedError(RuntelError):
    """No valid token and no stored credentials."""

    kind = "not_authenticated"


class TransportError(RuntelError):
    """The connection failed. ``cause`` says how, with a stable name: ``dns``,
    ``connect`` (refused or unreachable), ``reset``, ``tls_unknown_issuer``,
    ``tls_expired``, ``tls_wrong_name``, ``tls_other``, ``proxy``,
    ``malformed_http`` or ``io``."""

    kind = "transport"


class RuntelTimeoutError(RuntelError, TimeoutError):
    """A timeout ran out. Also a builtin ``TimeoutError``."""

    kind = "timeout"


class ProtocolError(RuntelError, ValueError):
    """The answer could not be understood. Also a ``ValueError``."""

    kind = "protocol"


class InvalidInputError(RuntelError, ValueError):
    """An argument was unusable, or the client is closed. Also a ``ValueError``."""

    kind = "invalid_input"


__all__ = [
    "RuntelError",
    "ApiError",
    "AuthError",
    "AuthLockoutError",
    "NotAuthenticatedError",
    "TransportError",
    "RuntelTimeoutError",
    "ProtocolError",
    "InvalidInputError",
]
