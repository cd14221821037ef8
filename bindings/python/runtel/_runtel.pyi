"""Type stubs of the runtel._runtel extension module (the Rust core's Python face).

Checked against the module by ``python -m mypy.stubtest runtel`` in the tests.
"""

import datetime
import os
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    ClassVar,
    Dict,
    ItemsView,
    Iterator,
    KeysView,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    Union,
    ValuesView,
    final,
    overload,
)

from ._errors import RuntelError

__all__ = [
    "__version__",
    "Client",
    "Records",
    "ObjectProxy",
    "ActionProxy",
    "AsyncClient",
    "AsyncRecords",
    "AsyncObjectProxy",
    "AsyncActionProxy",
    "AuthInfo",
    "Response",
    "ObjectSpec",
    "FieldSpec",
    "Filter",
    "objects",
    "object_spec",
    "where",
    "_after_fork_in_child",
    "_error_kinds",
    "_sample_error",
    "_transport_causes",
    "_decode_counts",
    "_async_log_counts",
    "_at_exit",
]

__version__: str

_JsonDict = Dict[str, Any]
_Path = Union[str, "os.PathLike[str]"]
# What ``filter=`` takes: a ``where(...)`` filter, or the wire form as a dict.
_FilterArg = Union["Filter", _JsonDict]

@final
class AuthInfo:
    """Who is logged in: an attribute for every field of the auth answer.
    ``repr`` masks the token. Fields the server sent in another type than
    documented read as their defaults; ``to_dict()`` keeps everything as sent."""

    @property
    def token(self) -> str:
        """The bearer token. Keep it out of logs."""
    @property
    def exp(self) -> datetime.datetime:
        """When the token expires, as the server wrote it, read as UTC: an aware
        ``datetime`` with the server's calendar parts to the microsecond. An
        instant before year 1 or after year 9999 (Python's ``datetime`` range)
        is clamped to ``datetime.min`` or ``datetime.max`` in UTC."""
    @property
    def expires_at(self) -> Optional[datetime.datetime]:
        """When the token expires on this machine's clock (corrected for the
        server's clock skew), aware UTC, clamped like ``exp``; None when the
        session no longer holds the token."""
    @property
    def version(self) -> Optional[_JsonDict]:
        """The platform's ``version``: ``software`` and ``last_update``."""
    @property
    def user_id(self) -> int:
        """The user's id (0 when the server sent none or an unreadable one)."""
    @property
    def user_name(self) -> str:
        """The user's display name."""
    @property
    def user_login(self) -> str:
        """The user's login (an e-mail)."""
    @property
    def domain_id(self) -> Optional[int]:
        """The PBX (domain) id; None for platform operators."""
    @property
    def domain_name(self) -> Optional[str]:
        """The PBX (domain) name."""
    @property
    def role_id(self) -> Optional[int]:
        """The role id."""
    @property
    def role_name(self) -> str:
        """The role name."""
    @property
    def role_type(self) -> int:
        """-1 platform administrator, -2 custom platform role, 1 PBX
        administrator, 4 custom PBX role (0 when unknown)."""
    @property
    def role_perms(self) -> _JsonDict:
        """Permissions, keyed by object name."""
    @property
    def role_visible(self) -> _JsonDict:
        """Visible objects, keyed by object name."""
    @property
    def role_filters(self) -> _JsonDict:
        """Filters, keyed by object name."""
    @property
    def auth_type(self) -> str:
        """How the user authenticated (``http``)."""
    @property
    def domain_test_until(self) -> Any:
        """End of the PBX's trial as sent (None when not on trial)."""
    @property
    def domain_mode(self) -> Optional[int]:
        """The PBX mode (undocumented integer)."""
    @property
    def domain_billing_options(self) -> Optional[_JsonDict]:
        """Billing state: ``balance`` (always the exact decimal text the server
        sent, also when it sent a number: ``1000.10`` stays ``"1000.10"``),
        ``block_inbound``, ``block_outbound``, ``block_face``."""
    @property
    def tz(self) -> Optional[str]:
        """The user's time zone, such as ``Europe/Prague``."""
    @property
    def locale(self) -> Optional[str]:
        """The user's locale, such as ``en_US``."""
    @property
    def notifies(self) -> List[Any]:
        """The ``notifies`` of the auth answer (messages for the user, such as a
        low-balance notice), as sent; ``[]`` when there were none."""
    @property
    def is_platform_operator(self) -> bool:
        """True for platform operators, who pass ``domain_id`` to act inside a PBX."""
    def to_dict(self) -> _JsonDict:
        """The auth body as a dict, every field including unknown ones, the
        token masked as ``"***"``."""

@final
class Response(Mapping[str, Any]):
    """A successful answer: a read-only mapping over the whole envelope
    (``resp["code"]``, ``resp.get("msg")``, ``dict(resp)``, ``"list" in resp``),
    plus the fields a program wants wherever the server put them: ``records``,
    ``record``, ``total_count``, ``body`` and ``notifies``.

    The mapping wraps the envelope the decoder built, without copying; the
    values inside (dicts, lists) are the envelope's own, so change a copy
    (``dict(resp)``, ``copy.deepcopy(resp)``) rather than them. It is not a
    ``dict``: ``json.dumps(dict(resp))`` serialises it. Pickling and copying
    work."""

    def __new__(cls, envelope: Mapping[str, Any], /) -> "Response":
        """A response over a copy of ``envelope`` (any mapping: an envelope
        obtained some other way, or one made up for a test). Its
        ``http_status`` is None."""
    def __getitem__(self, key: str, /) -> Any:
        """The envelope's field ``key``; ``KeyError`` when absent."""
    def __len__(self) -> int:
        """The number of top-level fields."""
    def __iter__(self) -> Iterator[str]:
        """The top-level field names, in the server's order."""
    def __contains__(self, key: object, /) -> bool:
        """True when the envelope has the field ``key``."""
    def get(self, key: str, default: Any = None, /) -> Any:  # type: ignore[override]
        """The envelope's field ``key``, or ``default``."""
    def keys(self) -> KeysView[str]:
        """A view of the field names."""
    def values(self) -> ValuesView[Any]:
        """A view of the field values."""
    def items(self) -> ItemsView[str, Any]:
        """A view of the ``(name, value)`` pairs."""
    def __eq__(self, other: object, /) -> bool:
        """Equal to a ``Response`` or mapping with the same fields and values."""
    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickles and copies as ``Response(envelope)``."""
    @property
    def records(self) -> List[_JsonDict]:
        """The records of a list answer wherever the server put them: the
        top-level ``list``, else ``body["list"]``, else ``body`` when it is a
        list; else ``[]``. The envelope's own list, not a copy."""
    @property
    def record(self) -> Optional[_JsonDict]:
        """The record of a ``get`` answer: ``body`` when it is a non-empty dict
        (and not one holding a ``list``), else the only record of a one-record
        list, else None."""
    @property
    def total_count(self) -> Optional[int]:
        """The ``total_count`` of a list answer, at the top level or in
        ``body``; None when absent or not a non-negative integer."""
    @property
    def body(self) -> Any:
        """The envelope's ``body``, or None when it has none."""
    @property
    def notifies(self) -> List[Any]:
        """The ``notifies`` (messages for the user that came with the answer),
        or ``[]``."""
    @property
    def http_status(self) -> Optional[int]:
        """The HTTP status of the answer; None for a ``Response`` made from a
        mapping."""

@final
class Records(Iterator[_JsonDict]):
    """Every record of a list action (dicts), one page in memory. Safe to share
    between threads; each record is yielded once. ``next()`` can be interrupted
    with Ctrl-C without losing a record: the following ``next()`` resumes with
    it. Reading a property never waits for a page another thread is fetching."""

    def __iter__(self) -> "Records":
        """The iterator itself."""
    def __next__(self) -> _JsonDict:
        """The next record, fetching a page when needed; ``StopIteration`` at
        the end. An error is raised once, then the iterator ends."""
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
        ended below the last announced ``total_count``, by how many records.
        An export should treat a number as incomplete."""
    @property
    def server_page_size(self) -> Optional[int]:
        """The page size the server turned out to use when it sent fewer records
        than asked while more were announced, or None."""
    @property
    def duplicates_dropped(self) -> int:
        """Records not yielded because their ``id`` was already on the previous
        page (the list gained records at its head while paging)."""
    @property
    def total_count_drift(self) -> Optional[Tuple[int, int]]:
        """``(first, latest)`` when ``total_count`` changed while paging: records
        were added or deleted, and offset paging may have skipped some
        (``consistent=True`` avoids that). None otherwise."""
    @property
    def notifies(self) -> List[Any]:
        """The ``notifies`` of every page so far, each distinct message once
        (messages for the user that came with the data, such as a low-balance
        notice)."""

@final
class ActionProxy:
    """``client.User.list``: calling it sends that action of that object."""

    def __call__(self, params: Optional[_JsonDict] = None, /, **kwargs: Any) -> Response:
        """Sends the action, as ``client.call(obj, action, params, **kwargs)``
        does: ``params`` and keyword arguments are merged into the params,
        except ``limit``, ``offset`` and ``filter``, which go to the envelope's
        top level."""

@final
class ObjectProxy:
    """``client.User``: its attributes are the object's actions."""

    def __getattr__(self, action: str) -> ActionProxy:
        """The action ``action`` of this object, ready to call; also an action
        the catalog does not list (the API may have more)."""
    def __dir__(self) -> List[str]:
        """The catalog's actions of the object, and ``spec``."""
    @property
    def spec(self) -> "ObjectSpec":
        """The object's catalog entry."""

@final
class FieldSpec:
    """A field of an object as the catalog knows it. Equal to another with the
    same name, type and constraints."""

    @property
    def name(self) -> str:
        """The field's name."""
    @property
    def type(self) -> str:
        """``int``, ``str``, ``email``, ``bool``, ``dict``, ``list``,
        ``unix_time`` (Unix seconds) or ``any``."""
    @property
    def required(self) -> bool:
        """Required when creating a record (``append``)."""
    @property
    def nullable(self) -> bool:
        """May be None."""
    @property
    def read_only(self) -> bool:
        """Sent by the server, never accepted from a client (``id``)."""
    @property
    def min_len(self) -> int:
        """The shortest length of a string (0 when none is known)."""
    @property
    def max_len(self) -> Optional[int]:
        """The longest length of a string, or None when no limit is known."""
    @property
    def choices(self) -> Tuple[int, ...]:
        """The values an integer field allows (empty: any)."""
    def to_dict(self) -> _JsonDict:
        """The field as the catalog's JSON has it, as a new dict."""
    def __eq__(self, other: object, /) -> bool:
        """Equal to a ``FieldSpec`` with the same name, type and constraints."""
    def __hash__(self) -> int:
        """A hash consistent with ``==``."""

@final
class ObjectSpec:
    """One object of the catalog (``runtel.objects()``): what the SDK knows of
    it, read from the Rust core. Objects the catalog does not know can still be
    sent with ``client.call``."""

    @property
    def name(self) -> str:
        """The name as sent in ``obj`` (``DomainCDR``)."""
    @property
    def scope(self) -> str:
        """``tenant`` (users and roles), ``domain`` (inside one PBX: platform
        operators pass ``domain_id``) or ``platform`` (platform operators
        only)."""
    @property
    def source(self) -> str:
        """``vendor`` (documented by the vendor) or ``field`` (seen in client
        programs; actions and fields inferred)."""
    @property
    def kind(self) -> str:
        """``config`` (records clients create and change) or ``log`` (records
        the platform writes; read only)."""
    @property
    def actions(self) -> Tuple[str, ...]:
        """The actions it answers."""
    @property
    def key(self) -> str:
        """The field that identifies a record."""
    @property
    def time_field(self) -> Optional[str]:
        """For logs, the Unix-time field to poll on (``dt``); None otherwise."""
    @property
    def fields(self) -> Tuple[FieldSpec, ...]:
        """The fields the SDK knows (records may carry others)."""
    @property
    def doc(self) -> str:
        """One line for people."""
    def field(self, name: str) -> Optional[FieldSpec]:
        """The known field ``name``, or None."""
    def to_dict(self) -> _JsonDict:
        """The object as the catalog's JSON has it (as ``runtel objects
        --json`` prints it), as a new dict."""
    def __eq__(self, other: object, /) -> bool:
        """Equal to the ``ObjectSpec`` of the same object."""
    def __hash__(self) -> int:
        """A hash consistent with ``==``."""

def objects() -> List[ObjectSpec]:
    """Every object of the catalog, in its order (users and roles, a PBX's
    configuration, its logs, the platform's configuration), as a new list."""

def object_spec(name: str) -> ObjectSpec:
    """The catalog's object ``name`` (exact spelling); ``KeyError`` naming the
    nearest object (``DomainCdr``: did you mean ``DomainCDR``?) when it has
    none."""

@final
class Filter:
    """The ``filter`` of a list call, built with ``where``: conditions joined by
    AND (``&``, wire ``type`` 0) or by OR (``|``, ``type`` 1). Immutable: ``&``
    and ``|`` make new filters. Pass it as ``filter=`` to ``call``, ``list``,
    ``records`` and the ``client.DomainCDR.list(...)`` proxies.

    The wire form joins all of a filter's conditions one way, so mixing ``&``
    and ``|`` raises ``InvalidInputError`` instead of sending something else.
    Equal to a filter with the same wire form; pickles and copies."""

    @staticmethod
    def from_dict(wire: _JsonDict, /) -> "Filter":
        """A filter from its wire form (``{"field_list": [...], "type": 0|1}``,
        as ``to_dict`` gives it); ``InvalidInputError`` when it is not one."""
    def to_dict(self) -> _JsonDict:
        """The wire form as a new dict: ``{"field_list": [{"field",
        "condition_type", "value"}], "type": 0|1}``."""
    @property
    def conditions(self) -> List[Tuple[str, str, Any]]:
        """``(field, operator, value)`` for each condition, the operator as a
        symbol (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~`` for
        contains) and a date as the Unix seconds sent."""
    @property
    def any(self) -> bool:
        """True when the conditions are joined by OR (``type`` 1)."""
    def __and__(self, other: "Filter", /) -> "Filter":
        """Both filters' conditions, all of which must hold (AND)."""
    def __or__(self, other: "Filter", /) -> "Filter":
        """Both filters' conditions, any of which may hold (OR)."""
    def __rand__(self, other: "Filter", /) -> "Filter":
        """``other & self``."""
    def __ror__(self, other: "Filter", /) -> "Filter":
        """``other | self``."""
    def __len__(self) -> int:
        """The number of conditions."""
    def __eq__(self, other: object, /) -> bool:
        """Equal to a ``Filter`` with the same wire form."""
    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickles and copies as ``Filter.from_dict(wire)``."""

@overload
def where(condition: str, /) -> Filter:
    """A filter of one condition read from ``FIELD OP VALUE`` text by the core,
    as the CLI's ``--where`` reads it (but without its date texts):
    ``where("dt>=1704067200")``, ``where("src_name~Ив")``. The value is JSON
    when it parses as JSON, else the text."""

@overload
def where(field: str, op: str, value: Any, /) -> Filter:
    """A filter of one condition: ``where("dt", ">=", t)``. Join filters with
    ``&`` (AND) or ``|`` (OR).

    - ``field``: the field's name.
    - ``op``: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~`` or their
      names ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``contains``
      (``==`` and ``<>`` too).
    - ``value``: any JSON value (an ``int`` of any size goes out exactly). A
      ``datetime`` or ``date`` becomes Unix seconds: an aware ``datetime`` is
      converted, a naive one is read as UTC, a ``date`` is its midnight UTC.
      A fraction of a second is rounded so the comparison stays exact for
      whole seconds (``>=`` and ``<`` round up, ``<=`` and ``>`` down); with
      ``=``, ``!=`` or ``~`` it raises ``InvalidInputError``.
    """

@final
class Client:
    """A Runtel API client, safe to share between threads (the GIL is released
    while it waits on the network). With ``login`` and ``password`` it logs in
    lazily on the first call and again when the token expires. As a context
    manager it logs out on exit.

    Every blocking method raises ``KeyboardInterrupt`` within a fraction of a
    second of Ctrl-C; the request then finishes in the background, so whether
    an interrupted write was applied is unknown. The client stays usable.

    ``client.User.list(limit=10)`` is ``client.call("User", "list", limit=10)``.
    """

    OPTION_NAMES: ClassVar[Tuple[str, ...]]
    """The name of every option of the core, in its order: each is a keyword of
    ``Client(...)`` and a key of ``options``."""

    def __new__(
        cls,
        base_url: str,
        *,
        timeout: Optional[float] = 30.0,
        connect_timeout: Optional[float] = 10.0,
        ca_file: Optional[_Path] = None,
        accept_invalid_certs: Optional[bool] = False,
        proxy: Optional[str] = None,
        proxy_from_env: Optional[bool] = False,
        user_agent: Optional[str] = None,
        max_response_bytes: Optional[int] = 67108864,
        login: Optional[str] = None,
        password: Optional[str] = None,
        max_auth_failures: Optional[int] = 3,
        auth_lockout_cooldown: Optional[float] = 900.0,
        max_retries: Optional[int] = 2,
        retry_base_delay: Optional[float] = 0.2,
        retry_max_delay: Optional[float] = 2.0,
        relogin_margin: Optional[float] = 60.0,
        logout_on_drop: Optional[bool] = True,
        max_idle_age: Optional[float] = 30.0,
        warn_plain_http: Optional[bool] = True,
        verify: Union[bool, _Path, None] = True,
        lockout_cooldown: Optional[float] = None,
    ) -> "Client":
        """A client for the PBX at ``base_url`` (``https://pbx.example``; the
        endpoint is ``{base_url}/api/``).

        Every option of the core is a keyword (``Client.OPTION_NAMES``); None
        keeps an option's default. Seconds accept an int or a float from 0 to
        30 days (timeouts above 0). An unknown keyword or a value of the wrong
        type raises ``TypeError`` (naming the nearest keyword for a typo); a
        value the core refuses raises ``InvalidInputError`` naming the keyword.

        - ``timeout`` (default 30.0): seconds for one HTTP exchange, connect to
          last byte.
        - ``connect_timeout`` (default 10.0): seconds to establish a
          connection (never more than ``timeout``).
        - ``ca_file`` (default None): trust the certificates in this PEM file
          (a private CA, or the PBX's self-signed certificate) instead of the
          public web roots.
        - ``accept_invalid_certs`` (default False): accept any certificate.
          Dangerous: anyone on the path can read the password and token.
        - ``proxy`` (default None): send through this proxy
          (``http://host:port``; SOCKS is refused); none by default,
          whatever the environment says.
        - ``proxy_from_env`` (default False): use ``HTTPS_PROXY``,
          ``HTTP_PROXY`` or ``ALL_PROXY`` when ``proxy`` is not set.
        - ``user_agent`` (default None): the ``User-Agent`` header (None sends
          ``runtel/VERSION``).
        - ``max_response_bytes`` (default 67108864): the largest answer
          accepted, in bytes after decompression (64 MiB).
        - ``login`` (default None): the login for lazy logins and renewals; give
          ``password`` with it.
        - ``password`` (default None): the password that goes with ``login``;
          never shown (``options`` shows ``"***"``).
        - ``max_auth_failures`` (default 3): refused logins in a row for a
          server before logins are refused locally (``AuthLockoutError``).
        - ``auth_lockout_cooldown`` (default 900.0): seconds logins stay
          refused locally after that.
        - ``max_retries`` (default 2): retries of ``list``,
          ``list_with_detail`` and ``get`` after a connection failure or a
          502/503/504; 0 turns them off. Writes are never retried.
        - ``retry_base_delay`` (default 0.2): seconds before the first retry,
          doubled for each further one, jittered.
        - ``retry_max_delay`` (default 2.0): the longest single retry delay,
          in seconds.
        - ``relogin_margin`` (default 60.0): log in again this many seconds
          before the token expires (at most a quarter of its lifetime).
        - ``logout_on_drop`` (default True): log out when the client is closed
          or its last reference dropped.
        - ``max_idle_age`` (default 30.0): seconds after which idle keep-alive
          connections are closed.
        - ``warn_plain_http`` (default True): log a warning once before a
          password goes over plain ``http://`` to a host that is not this
          machine.
        - ``verify`` (default True): as requests and httpx take it: True checks
          certificates against the public roots, False is
          ``accept_invalid_certs=True``, a path (str or ``os.PathLike``) is
          ``ca_file``. Not together with ``ca_file`` or
          ``accept_invalid_certs``.
        - ``lockout_cooldown`` (default None): another name of
          ``auth_lockout_cooldown`` (None: that option's default).
        """
    @property
    def options(self) -> Dict[str, Any]:
        """Every option the client was built with, defaults included, keyed by
        ``OPTION_NAMES``, as a new dict each time: seconds as floats,
        ``ca_file`` as a str, the password as ``"***"``."""
    def login(self, login: str, password: str) -> AuthInfo:
        """Logs in and remembers the credentials for automatic re-login. A
        refused login raises ``AuthError`` and is never retried; after
        ``max_auth_failures`` refusals in a row, ``AuthLockoutError``. Ctrl-C
        interrupts it; the login may still complete in the background."""
    def call(self, obj: str, action: str, params: Optional[_JsonDict] = None, /, **kwargs: Any) -> Response:
        """Sends one call and returns its answer. ``params`` (a dict, sent as
        given) and keyword arguments are merged into the params (keywords win),
        except the keywords ``limit``, ``offset`` (ints) and ``filter`` (a
        ``where(...)`` filter or a dict), which go to the envelope's top level as the API wants them.
        Integers of any size go out exactly. Raises a ``RuntelError`` subclass
        when the call fails. If Ctrl-C interrupts it, the request may still
        reach the server: a write may have been applied."""
    def list(
        self,
        obj: str,
        params: Optional[_JsonDict] = None,
        /,
        *,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        filter: Optional[_FilterArg] = None,
        action: str = "list",
        **kwargs: Any,
    ) -> Response:
        """One page of a list action: ``call(obj, action, params, limit=...,
        offset=..., filter=..., **kwargs)``."""
    def records(
        self,
        obj: str,
        params: Optional[_JsonDict] = None,
        /,
        *,
        page_size: Optional[int] = None,
        filter: Optional[_FilterArg] = None,
        start: Optional[int] = None,
        action: str = "list",
        consistent: bool = False,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        prefetch: bool = True,
        **kwargs: Any,
    ) -> Records:
        """Iterates over every record of a list action, one page in memory
        (nothing is sent before the first ``next()``); from a page's second
        record on, the next page is fetched meanwhile (one page ahead).

        - ``obj``, ``params`` and keyword arguments: as for ``call``.
        - ``page_size`` (default None: 1000): records per request, each page's
          top-level ``limit``.
        - ``filter`` (default None): the top-level ``filter``, sent with every
          page.
        - ``start`` (default None: 0): the offset of the first record, to
          resume an export at ``Records.position``.
        - ``action`` (default 'list'): the list action (``list_with_detail``).
        - ``consistent`` (default False): page by ``id`` (``id > last``, ANDed
          to the filter) instead of by offset, so records added or deleted
          meanwhile neither skip nor repeat records. Needs records sorted by
          ascending ``id`` (checked on every page), and a filter of ``type`` 0;
          ``start`` does not apply.
        - ``limit`` (default None): another name of ``page_size``.
        - ``offset`` (default None): another name of ``start``.
        - ``prefetch`` (default True): fetch the next page on a helper thread
          while this one is read; False fetches each page when it is reached.
        """
    def logout(self) -> None:
        """Ends the token on the server. Stored credentials are kept: a later
        call logs in again. If interrupted, the logout goes on in the
        background."""
    def close(self) -> None:
        """Logs out (when holding a token) and closes the client; later calls
        raise ``InvalidInputError``. Calling it again does nothing."""
    @property
    def auth_info(self) -> Optional[AuthInfo]:
        """The auth info of the current login, or None."""
    @property
    def status(self) -> str:
        """``"unauthenticated"``, ``"authenticated"``, ``"expired"``,
        ``"logged_out"`` or ``"closed"``."""
    @property
    def url(self) -> str:
        """The endpoint URL (``{base_url}/api/``)."""
    def __enter__(self) -> "Client":
        """The client itself."""
    def __exit__(self, exc_type: Any = None, _exc: Any = None, _tb: Any = None) -> Literal[False]:
        """Logs out and closes. An exception already being raised is never
        replaced by a logout failure (that is logged); an interrupt during the
        logout is raised."""
    @property
    def User(self) -> ObjectProxy:
        """The ``User`` object: platform users (cabinet logins).

        Configuration, users and roles (PBX users see their own PBX's); documented by
        the vendor. Actions: list, list_with_detail, get, append, update, delete, auth,
        logout."""
    @property
    def Role(self) -> ObjectProxy:
        """The ``Role`` object: roles and their permissions.

        Configuration, users and roles (PBX users see their own PBX's); documented by
        the vendor. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def DomainUser(self) -> ObjectProxy:
        """The ``DomainUser`` object: a PBX's extensions.

        Configuration, inside one PBX (platform operators pass ``domain_id``);
        documented by the vendor. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainAgent(self) -> ObjectProxy:
        """The ``DomainAgent`` object: call-centre agents.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainRole(self) -> ObjectProxy:
        """The ``DomainRole`` object: a PBX's own roles.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainPermission(self) -> ObjectProxy:
        """The ``DomainPermission`` object: a PBX's permissions.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainQueue(self) -> ObjectProxy:
        """The ``DomainQueue`` object: call queues.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainConference(self) -> ObjectProxy:
        """The ``DomainConference`` object: conference rooms.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainDialPlan(self) -> ObjectProxy:
        """The ``DomainDialPlan`` object: dial plan rules.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainGateway(self) -> ObjectProxy:
        """The ``DomainGateway`` object: SIP gateways (trunks).

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainSofiaProfile(self) -> ObjectProxy:
        """The ``DomainSofiaProfile`` object: SIP profiles.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainLocalStream(self) -> ObjectProxy:
        """The ``DomainLocalStream`` object: music on hold streams.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainDialerBatch(self) -> ObjectProxy:
        """The ``DomainDialerBatch`` object: auto-dialer campaigns.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainAutoDialingBatchSchedule(self) -> ObjectProxy:
        """The ``DomainAutoDialingBatchSchedule`` object: auto-dialer schedules.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainCDR(self) -> ObjectProxy:
        """The ``DomainCDR`` object: call history (call detail records).

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainQueueCDR(self) -> ObjectProxy:
        """The ``DomainQueueCDR`` object: queue call records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainQueueMemberCDR(self) -> ObjectProxy:
        """The ``DomainQueueMemberCDR`` object: queue member call records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainConferenceCdr(self) -> ObjectProxy:
        """The ``DomainConferenceCdr`` object: conference records (sic: Cdr).

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainConferenceMemberCDR(self) -> ObjectProxy:
        """The ``DomainConferenceMemberCDR`` object: conference member records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainAgentStatus(self) -> ObjectProxy:
        """The ``DomainAgentStatus`` object: agent status changes.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainDPEResult(self) -> ObjectProxy:
        """The ``DomainDPEResult`` object: dial plan results; get_dialog(call_uuid) answers body.dialog.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get, get_dialog.
        Time field ``dt``."""
    @property
    def DomainDialerContact(self) -> ObjectProxy:
        """The ``DomainDialerContact`` object: auto-dialer contacts.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainDialerAttempt(self) -> ObjectProxy:
        """The ``DomainDialerAttempt`` object: auto-dialer attempts.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainVoiceMail(self) -> ObjectProxy:
        """The ``DomainVoiceMail`` object: voicemail messages.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainNotify(self) -> ObjectProxy:
        """The ``DomainNotify`` object: notifications.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainCRMEvent(self) -> ObjectProxy:
        """The ``DomainCRMEvent`` object: CRM events.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainFax(self) -> ObjectProxy:
        """The ``DomainFax`` object: faxes.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def PbxHost(self) -> ObjectProxy:
        """The ``PbxHost`` object: PBX hosts.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSSystem(self) -> ObjectProxy:
        """The ``GSSystem`` object: global system settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSPluginCore(self) -> ObjectProxy:
        """The ``GSPluginCore`` object: core plugin settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSPluginCDR(self) -> ObjectProxy:
        """The ``GSPluginCDR`` object: CDR plugin settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSDefaults(self) -> ObjectProxy:
        """The ``GSDefaults`` object: platform defaults.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModCallCenter(self) -> ObjectProxy:
        """The ``ModCallCenter`` object: call-centre module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModEventSocket(self) -> ObjectProxy:
        """The ``ModEventSocket`` object: event socket module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModXmlCdr(self) -> ObjectProxy:
        """The ``ModXmlCdr`` object: XML CDR module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemAudioFile(self) -> ObjectProxy:
        """The ``SystemAudioFile`` object: audio files.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemFileStorage(self) -> ObjectProxy:
        """The ``SystemFileStorage`` object: file storage.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemLocalStream(self) -> ObjectProxy:
        """The ``SystemLocalStream`` object: platform streams.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""


@final
class AsyncRecords(AsyncIterator[_JsonDict]):
    """Every record of a list action (dicts), for ``async for``; one page in
    memory. Records of a page already fetched come without a trip through the
    event loop. An error is raised once, then the iteration ends. Cancelling
    the task that waits for a page cancels its request."""

    def __aiter__(self) -> "AsyncRecords":
        """The iterator itself."""
    def __anext__(self) -> Awaitable[_JsonDict]:
        """The next record, fetching a page when needed;
        ``StopAsyncIteration`` at the end."""
    @property
    def total_count(self) -> Optional[int]:
        """The ``total_count`` reported with the last page, or None before the
        first. Reading a property never waits for a page being fetched."""
    @property
    def position(self) -> int:
        """The offset of the next record."""
    @property
    def pages_fetched(self) -> int:
        """Pages fetched so far."""
    @property
    def shortfall(self) -> Optional[int]:
        """Once the list has ended below the last announced ``total_count``, by
        how many records; None otherwise."""

@final
class AsyncActionProxy:
    """``pbx.User.list`` of an ``AsyncClient``: calling it returns the call's
    awaitable."""

    def __call__(self, params: Optional[_JsonDict] = None, /, **kwargs: Any) -> Awaitable[Response]:
        """Sends the action, as ``pbx.call(obj, action, params, **kwargs)``."""

@final
class AsyncObjectProxy:
    """``pbx.User`` of an ``AsyncClient``: its attributes are the object's
    actions."""

    def __getattr__(self, action: str) -> AsyncActionProxy:
        """The action ``action`` of this object, ready to call and await."""
    def __dir__(self) -> List[str]:
        """The catalog's actions of the object, and ``spec``."""
    @property
    def spec(self) -> "ObjectSpec":
        """The object's catalog entry."""

@final
class AsyncClient:
    """The asyncio client: the same options, calls, ``Response`` objects and
    exception classes as ``Client``, as coroutines, on the Rust core's async
    client (tokio). Safe to share between tasks: calls run concurrently over
    one connection pool; when the token expires, exactly one task logs in
    again while the others wait (single flight). The login guard is shared
    with every ``Client`` of the same server in the process.

    ``async with runtel.AsyncClient(url, login=..., password=...) as pbx``
    logs in lazily and logs out on exit; ``await pbx.User.list(limit=10)`` is
    ``await pbx.call("User", "list", limit=10)``.

    Cancelling the task that awaits a call (``task.cancel()``,
    ``asyncio.wait_for``, an anyio cancel scope) cancels its request: its
    connection is closed, the client stays usable, and whether a cancelled
    write was applied on the server is unknown. A login runs to its end even
    if its awaiting task is cancelled, so the login guard counts its real
    outcome. A ``timeout`` that runs out raises ``RuntelTimeoutError``.

    Works under any asyncio event loop (uvloop included) and anyio's asyncio
    backend. Make clients after a ``fork()``, not before."""

    OPTION_NAMES: ClassVar[Tuple[str, ...]]
    """The name of every option (as for ``Client``)."""

    def __new__(
        cls,
        base_url: str,
        *,
        timeout: Optional[float] = 30.0,
        connect_timeout: Optional[float] = 10.0,
        ca_file: Optional[_Path] = None,
        accept_invalid_certs: Optional[bool] = False,
        proxy: Optional[str] = None,
        proxy_from_env: Optional[bool] = False,
        user_agent: Optional[str] = None,
        max_response_bytes: Optional[int] = 67108864,
        login: Optional[str] = None,
        password: Optional[str] = None,
        max_auth_failures: Optional[int] = 3,
        auth_lockout_cooldown: Optional[float] = 900.0,
        max_retries: Optional[int] = 2,
        retry_base_delay: Optional[float] = 0.2,
        retry_max_delay: Optional[float] = 2.0,
        relogin_margin: Optional[float] = 60.0,
        logout_on_drop: Optional[bool] = True,
        max_idle_age: Optional[float] = 30.0,
        warn_plain_http: Optional[bool] = True,
        verify: Union[bool, _Path, None] = True,
        lockout_cooldown: Optional[float] = None,
    ) -> "AsyncClient":
        """A client for the PBX at ``base_url`` (``https://pbx.example``; the
        endpoint is ``{base_url}/api/``).

        Every option of the core is a keyword (``AsyncClient.OPTION_NAMES``,
        the same as ``Client``'s); nothing is sent before the first call; None
        keeps an option's default. Seconds accept an int or a float from 0 to
        30 days (timeouts above 0). An unknown keyword or a value of the wrong
        type raises ``TypeError`` (naming the nearest keyword for a typo); a
        value the core refuses raises ``InvalidInputError`` naming the keyword.

        - ``timeout`` (default 30.0): seconds for one HTTP exchange, connect to
          last byte.
        - ``connect_timeout`` (default 10.0): seconds to establish a
          connection (never more than ``timeout``).
        - ``ca_file`` (default None): trust the certificates in this PEM file
          (a private CA, or the PBX's self-signed certificate) instead of the
          public web roots.
        - ``accept_invalid_certs`` (default False): accept any certificate.
          Dangerous: anyone on the path can read the password and token.
        - ``proxy`` (default None): send through this proxy
          (``http://host:port``; SOCKS is refused); none by default,
          whatever the environment says.
        - ``proxy_from_env`` (default False): use ``HTTPS_PROXY``,
          ``HTTP_PROXY`` or ``ALL_PROXY`` when ``proxy`` is not set.
        - ``user_agent`` (default None): the ``User-Agent`` header (None sends
          ``runtel/VERSION``).
        - ``max_response_bytes`` (default 67108864): the largest answer
          accepted, in bytes after decompression (64 MiB).
        - ``login`` (default None): the login for lazy logins and renewals; give
          ``password`` with it.
        - ``password`` (default None): the password that goes with ``login``;
          never shown (``options`` shows ``"***"``).
        - ``max_auth_failures`` (default 3): refused logins in a row for a
          server before logins are refused locally (``AuthLockoutError``).
        - ``auth_lockout_cooldown`` (default 900.0): seconds logins stay
          refused locally after that.
        - ``max_retries`` (default 2): retries of ``list``,
          ``list_with_detail`` and ``get`` after a connection failure or a
          502/503/504; 0 turns them off. Writes are never retried.
        - ``retry_base_delay`` (default 0.2): seconds before the first retry,
          doubled for each further one, jittered.
        - ``retry_max_delay`` (default 2.0): the longest single retry delay,
          in seconds.
        - ``relogin_margin`` (default 60.0): log in again this many seconds
          before the token expires (at most a quarter of its lifetime).
        - ``logout_on_drop`` (default True): log out when the client is closed
          or its last reference dropped.
        - ``max_idle_age`` (default 30.0): seconds after which idle keep-alive
          connections are closed.
        - ``warn_plain_http`` (default True): log a warning once before a
          password goes over plain ``http://`` to a host that is not this
          machine.
        - ``verify`` (default True): as requests and httpx take it: True checks
          certificates against the public roots, False is
          ``accept_invalid_certs=True``, a path (str or ``os.PathLike``) is
          ``ca_file``. Not together with ``ca_file`` or
          ``accept_invalid_certs``.
        - ``lockout_cooldown`` (default None): another name of
          ``auth_lockout_cooldown`` (None: that option's default).
        """
    @property
    def options(self) -> Dict[str, Any]:
        """Every option the client was built with, as for ``Client.options``."""
    def login(self, login: str, password: str) -> Awaitable[AuthInfo]:
        """Logs in and remembers the credentials for automatic re-login. A
        refused login raises ``AuthError`` and is never retried; after
        ``max_auth_failures`` refusals in a row for this server (counted with
        every client of the process), ``AuthLockoutError``."""
    def call(self, obj: str, action: str, params: Optional[_JsonDict] = None, /, **kwargs: Any) -> Awaitable[Response]:
        """Sends one call and returns its answer, as ``Client.call``."""
    def list(
        self,
        obj: str,
        params: Optional[_JsonDict] = None,
        /,
        *,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        filter: Optional[_FilterArg] = None,
        action: str = "list",
        **kwargs: Any,
    ) -> Awaitable[Response]:
        """One page of a list action: ``call(obj, action, params, limit=...,
        offset=..., filter=..., **kwargs)``."""
    def records(
        self,
        obj: str,
        params: Optional[_JsonDict] = None,
        /,
        *,
        page_size: Optional[int] = None,
        filter: Optional[_FilterArg] = None,
        start: Optional[int] = None,
        action: str = "list",
        consistent: bool = False,
        **kwargs: Any,
    ) -> AsyncRecords:
        """Every record of a list action, for ``async for``, one page in memory;
        the keywords as for ``Client.records`` (page_size defaults to 1000)."""
    def logout(self) -> Awaitable[None]:
        """Ends the token on the server. Stored credentials are kept."""
    def close(self) -> Awaitable[None]:
        """Logs out (when holding a token) and closes the client; later calls
        raise ``InvalidInputError``."""
    @property
    def auth_info(self) -> Optional[AuthInfo]:
        """The auth info of the current login, or None."""
    @property
    def status(self) -> str:
        """``"unauthenticated"``, ``"authenticated"``, ``"expired"``,
        ``"logged_out"`` or ``"closed"``."""
    @property
    def url(self) -> str:
        """The endpoint URL (``{base_url}/api/``)."""
    def __aenter__(self) -> Awaitable["AsyncClient"]:
        """The client itself."""
    def __aexit__(self, exc_type: Any = None, _exc: Any = None, _tb: Any = None) -> Awaitable[Optional[bool]]:
        """Logs out and closes. An exception already being raised is never
        replaced by a logout failure (that is logged)."""
    @property
    def User(self) -> AsyncObjectProxy:
        """The ``User`` object: platform users (cabinet logins).

        Configuration, users and roles (PBX users see their own PBX's); documented by
        the vendor. Actions: list, list_with_detail, get, append, update, delete, auth,
        logout."""
    @property
    def Role(self) -> AsyncObjectProxy:
        """The ``Role`` object: roles and their permissions.

        Configuration, users and roles (PBX users see their own PBX's); documented by
        the vendor. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def DomainUser(self) -> AsyncObjectProxy:
        """The ``DomainUser`` object: a PBX's extensions.

        Configuration, inside one PBX (platform operators pass ``domain_id``);
        documented by the vendor. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainAgent(self) -> AsyncObjectProxy:
        """The ``DomainAgent`` object: call-centre agents.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainRole(self) -> AsyncObjectProxy:
        """The ``DomainRole`` object: a PBX's own roles.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainPermission(self) -> AsyncObjectProxy:
        """The ``DomainPermission`` object: a PBX's permissions.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainQueue(self) -> AsyncObjectProxy:
        """The ``DomainQueue`` object: call queues.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainConference(self) -> AsyncObjectProxy:
        """The ``DomainConference`` object: conference rooms.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainDialPlan(self) -> AsyncObjectProxy:
        """The ``DomainDialPlan`` object: dial plan rules.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainGateway(self) -> AsyncObjectProxy:
        """The ``DomainGateway`` object: SIP gateways (trunks).

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainSofiaProfile(self) -> AsyncObjectProxy:
        """The ``DomainSofiaProfile`` object: SIP profiles.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainLocalStream(self) -> AsyncObjectProxy:
        """The ``DomainLocalStream`` object: music on hold streams.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainDialerBatch(self) -> AsyncObjectProxy:
        """The ``DomainDialerBatch`` object: auto-dialer campaigns.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainAutoDialingBatchSchedule(self) -> AsyncObjectProxy:
        """The ``DomainAutoDialingBatchSchedule`` object: auto-dialer schedules.

        Configuration, inside one PBX (platform operators pass ``domain_id``); inferred
        from client programs. Actions: list, list_with_detail, get, append, update,
        delete."""
    @property
    def DomainCDR(self) -> AsyncObjectProxy:
        """The ``DomainCDR`` object: call history (call detail records).

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainQueueCDR(self) -> AsyncObjectProxy:
        """The ``DomainQueueCDR`` object: queue call records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainQueueMemberCDR(self) -> AsyncObjectProxy:
        """The ``DomainQueueMemberCDR`` object: queue member call records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainConferenceCdr(self) -> AsyncObjectProxy:
        """The ``DomainConferenceCdr`` object: conference records (sic: Cdr).

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainConferenceMemberCDR(self) -> AsyncObjectProxy:
        """The ``DomainConferenceMemberCDR`` object: conference member records.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainAgentStatus(self) -> AsyncObjectProxy:
        """The ``DomainAgentStatus`` object: agent status changes.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainDPEResult(self) -> AsyncObjectProxy:
        """The ``DomainDPEResult`` object: dial plan results; get_dialog(call_uuid) answers body.dialog.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get, get_dialog.
        Time field ``dt``."""
    @property
    def DomainDialerContact(self) -> AsyncObjectProxy:
        """The ``DomainDialerContact`` object: auto-dialer contacts.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainDialerAttempt(self) -> AsyncObjectProxy:
        """The ``DomainDialerAttempt`` object: auto-dialer attempts.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainVoiceMail(self) -> AsyncObjectProxy:
        """The ``DomainVoiceMail`` object: voicemail messages.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainNotify(self) -> AsyncObjectProxy:
        """The ``DomainNotify`` object: notifications.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainCRMEvent(self) -> AsyncObjectProxy:
        """The ``DomainCRMEvent`` object: CRM events.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def DomainFax(self) -> AsyncObjectProxy:
        """The ``DomainFax`` object: faxes.

        A log, read only, inside one PBX (platform operators pass ``domain_id``);
        inferred from client programs. Actions: list, list_with_detail, get. Time field
        ``dt``."""
    @property
    def PbxHost(self) -> AsyncObjectProxy:
        """The ``PbxHost`` object: PBX hosts.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSSystem(self) -> AsyncObjectProxy:
        """The ``GSSystem`` object: global system settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSPluginCore(self) -> AsyncObjectProxy:
        """The ``GSPluginCore`` object: core plugin settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSPluginCDR(self) -> AsyncObjectProxy:
        """The ``GSPluginCDR`` object: CDR plugin settings.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def GSDefaults(self) -> AsyncObjectProxy:
        """The ``GSDefaults`` object: platform defaults.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModCallCenter(self) -> AsyncObjectProxy:
        """The ``ModCallCenter`` object: call-centre module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModEventSocket(self) -> AsyncObjectProxy:
        """The ``ModEventSocket`` object: event socket module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def ModXmlCdr(self) -> AsyncObjectProxy:
        """The ``ModXmlCdr`` object: XML CDR module.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemAudioFile(self) -> AsyncObjectProxy:
        """The ``SystemAudioFile`` object: audio files.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemFileStorage(self) -> AsyncObjectProxy:
        """The ``SystemFileStorage`` object: file storage.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""
    @property
    def SystemLocalStream(self) -> AsyncObjectProxy:
        """The ``SystemLocalStream`` object: platform streams.

        Configuration, platform configuration (platform operators only); inferred from
        client programs. Actions: list, list_with_detail, get, append, update, delete."""

def _after_fork_in_child() -> None:
    """Registered with ``os.register_at_fork``: clients drop the parent's
    connections and ``action_id`` sequence, the worker pool and the queue of
    log records start over, and an iterator another thread was inside at the
    fork raises ``InvalidInputError`` here instead of hanging."""

def _at_exit() -> None:
    """Registered with ``atexit``: work abandoned by Ctrl-C stops touching the
    interpreter while it exits."""

def _error_kinds() -> List[str]:
    """The name of every error kind of the core, in its order (each has its own
    exception class)."""

def _transport_causes() -> List[str]:
    """Every ``TransportError.cause`` the core can give."""

def _sample_error(kind: str) -> RuntelError:
    """The exception an error of ``kind`` becomes (for tests of the table);
    ``ValueError`` for a name that is not a kind."""

def _decode_counts() -> Dict[str, int]:
    """Answers decoded in one pass (``fast``), and answers the core's parser
    read after the decoder's success rule refused them: ``slow_ok`` (should
    stay 0) and ``slow_error``."""
def _async_log_counts() -> Dict[str, int]:
    """Log records of runtel's own threads (the async client's runtime, the
    thread fetching the next page of ``records()``, a call's login helper)
    queued so far, and the batches they reached the ``runtel`` logger in (for
    tests)."""
