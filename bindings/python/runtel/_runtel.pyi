"""Type stubs of the runtel._runtel extension module."""

import datetime
import os
from typing import Any, Dict, Iterator, Optional, Union

__version__: str

JsonDict = Dict[str, Any]

class AuthInfo:
    @property
    def token(self) -> str: ...
    @property
    def exp(self) -> datetime.datetime: ...
    @property
    def expires_at(self) -> Optional[datetime.datetime]: ...
    @property
    def version(self) -> Optional[JsonDict]: ...
    @property
    def user_id(self) -> int: ...
    @property
    def user_name(self) -> str: ...
    @property
    def user_login(self) -> str: ...
    @property
    def domain_id(self) -> Optional[int]: ...
    @property
    def domain_name(self) -> Optional[str]: ...
    @property
    def role_id(self) -> Optional[int]: ...
    @property
    def role_name(self) -> str: ...
    @property
    def role_type(self) -> int: ...
    @property
    def role_perms(self) -> JsonDict: ...
    @property
    def role_visible(self) -> JsonDict: ...
    @property
    def role_filters(self) -> JsonDict: ...
    @property
    def auth_type(self) -> str: ...
    @property
    def domain_test_until(self) -> Any: ...
    @property
    def domain_mode(self) -> Optional[int]: ...
    @property
    def domain_billing_options(self) -> Optional[JsonDict]: ...
    @property
    def tz(self) -> Optional[str]: ...
    @property
    def locale(self) -> Optional[str]: ...
    @property
    def is_platform_operator(self) -> bool: ...
    def to_dict(self) -> JsonDict: ...

class Records(Iterator[JsonDict]):
    """Every record of a list action, one page in memory. Safe to share between
    threads; ``next()`` can be interrupted with Ctrl-C without losing a record."""

    def __iter__(self) -> "Records": ...
    def __next__(self) -> JsonDict: ...
    @property
    def total_count(self) -> Optional[int]:
        """The ``total_count`` reported with the last page, or None before the first."""
    @property
    def position(self) -> int:
        """The offset of the next record (to resume an export with ``start``)."""
    @property
    def pages_fetched(self) -> int:
        """Pages fetched so far."""
    @property
    def shortfall(self) -> Optional[int]:
        """None while iterating and after a complete list; once the iterator has
        ended below the last announced ``total_count``, by how many records."""
    @property
    def server_page_size(self) -> Optional[int]:
        """The page size the server turned out to use when it sent fewer records
        than asked while more were announced, or None."""

class ActionProxy:
    def __call__(self, params: Optional[JsonDict] = None, /, **kwargs: Any) -> JsonDict: ...

class ObjectProxy:
    def __getattr__(self, action: str) -> ActionProxy: ...

class Client:
    """A Runtel API client, safe to share between threads. Every blocking method
    raises ``KeyboardInterrupt`` within a fraction of a second of Ctrl-C; the
    request then finishes in the background, so whether an interrupted write
    was applied is unknown. Seconds-valued keywords accept 0 to 30 days
    (timeouts above 0); anything else raises ``InvalidInputError``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        verify: bool = True,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        login: Optional[str] = None,
        password: Optional[str] = None,
        max_auth_failures: int = 3,
        lockout_cooldown: float = 900.0,
        max_retries: int = 2,
        retry_base_delay: float = 0.2,
        retry_max_delay: float = 2.0,
        relogin_margin: float = 60.0,
        user_agent: Optional[str] = None,
        proxy: Optional[str] = None,
        max_response_bytes: Optional[int] = None,
    ) -> None: ...
    def login(self, login: str, password: str) -> AuthInfo: ...
    def call(self, obj: str, action: str, params: Optional[JsonDict] = None, /, **kwargs: Any) -> JsonDict: ...
    def list(
        self,
        obj: str,
        params: Optional[JsonDict] = None,
        /,
        *,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        filter: Optional[JsonDict] = None,
        action: str = "list",
        **kwargs: Any,
    ) -> JsonDict: ...
    def records(
        self,
        obj: str,
        params: Optional[JsonDict] = None,
        /,
        *,
        page_size: int = 1000,
        filter: Optional[JsonDict] = None,
        start: int = 0,
        action: str = "list",
        **kwargs: Any,
    ) -> Records: ...
    def logout(self) -> None: ...
    def close(self) -> None: ...
    @property
    def auth_info(self) -> Optional[AuthInfo]: ...
    @property
    def status(self) -> str: ...
    @property
    def url(self) -> str: ...
    def __enter__(self) -> "Client": ...
    def __exit__(self, exc_type: Any = None, exc: Any = None, tb: Any = None) -> bool: ...
    def __getattr__(self, obj: str) -> ObjectProxy: ...

def _after_fork_in_child() -> None: ...
def _at_exit() -> None: ...
