"""runtel: the SDK for the Runtel PBX API v2, on a Rust core.

    import runtel
    with runtel.Client("https://pbx.example", login="me@pbx.example", password=pw) as c:
        users = c.User.list()            # a Response: users.records, users.total_count
        since = runtel.where("dt", ">=", datetime(2024, 1, 1, tzinfo=timezone.utc))
        for cdr in c.records("DomainCDR", page_size=1000, filter=since):
            ...
    runtel.objects()                     # the object catalog: names, actions, fields

    async with runtel.AsyncClient("https://pbx.example", login="me@pbx.example", password=pw) as pbx:
        users = await pbx.User.list()    # the same Response, the same exceptions
        async for cdr in pbx.records("DomainCDR", page_size=1000):
            ...

Logging goes to the ``runtel`` logger (which has a ``NullHandler``, so nothing
is printed unless the program configures logging); passwords and tokens never
appear in it.

Ctrl-C interrupts any blocking method within a fraction of a second; the
request then finishes in the background and its answer is dropped, so whether
an interrupted write was applied on the server is unknown.
"""

import atexit as _atexit
import logging as _logging
import os as _os

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
from ._runtel import (
    AsyncClient,
    AsyncRecords,
    AuthInfo,
    Client,
    FieldSpec,
    Filter,
    ObjectSpec,
    Records,
    Response,
    __version__,
    object_spec,
    objects,
    where,
)
from ._runtel import _after_fork_in_child, _at_exit

# A library's logger: silent unless the program configures logging.
_logging.getLogger("runtel").addHandler(_logging.NullHandler())

# A forked child (multiprocessing, gunicorn --preload, celery prefork) must not
# reuse the parent's connections, action ids or worker threads, nor find a lock
# held by a thread it does not have.
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)
# Requests abandoned by Ctrl-C must not touch the interpreter while it exits.
_atexit.register(_at_exit)

__all__ = [
    "Client",
    "AsyncClient",
    "AsyncRecords",
    "AuthInfo",
    "Records",
    "Response",
    "Filter",
    "where",
    "ObjectSpec",
    "FieldSpec",
    "objects",
    "object_spec",
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
