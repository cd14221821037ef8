"""runtel: the SDK for the Runtel PBX API v2, on a Rust core.

    import runtel
    with runtel.Client("https://pbx.example", login="me@pbx.example", password=pw) as c:
        users = c.User.list()
        for cdr in c.records("DomainCDR", page_size=1000):
            ...

Logging goes to the ``runtel`` logger; passwords and tokens never appear in it.
"""

from ._errors import (
    ApiError,
    AuthError,
    AuthLockoutError,
    InvalidInputError,
    NotAuthenticatedError,
    ProtocolError,
    RuntelError,
    RuntelTimeoutError,
    TransportError,
)
from ._runtel import AuthInfo, Client, Records, __version__

__all__ = [
    "Client",
    "AuthInfo",
    "Records",
    "RuntelError",
    "ApiError",
    "AuthError",
    "AuthLockoutError",
    "NotAuthenticatedError",
    "TransportError",
    "RuntelTimeoutError",
    "ProtocolError",
    "InvalidInputError",
    "__version__",
]
