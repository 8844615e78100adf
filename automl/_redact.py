"""Keep secrets in storage URLs and tracking URIs out of logs, printed lines and command lines.

- :func:`redact_url` masks the password of ``user:password@host`` and the values of
  secret-looking query parameters (``password``, ``token``, ``api_key``, ``sig``, ...);
  paths and everything else stay readable.
- :func:`redact_text` masks every URL inside a free text (an exception message that
  quotes a URL, for example) and, literally, the secrets of the URLs it is given.
- :func:`hand_over` / :func:`take_over` pass a URL to a child process by environment
  variable instead of on its command line (which ``ps`` shows to every user): the
  parent puts ``env:NAME`` on the command line, the child reads ``$NAME``. The same
  ``env:NAME`` spelling works for ``--storage`` and ``--tracking-uri`` typed by a user.

This module imports only :mod:`automl.exceptions` (its layer is just above the bottom one).

Example:
    >>> redact_url("postgresql://me:s3cret@db:5432/studies?sslmode=require&password=x")
    'postgresql://me:***@db:5432/studies?sslmode=require&password=***'
    >>> redact_url("https://host/api?token=abc&page=2")
    'https://host/api?token=***&page=2'
    >>> redact_url("runs/studies.journal"), redact_url("sqlite:///runs/mlflow.db")
    ('runs/studies.journal', 'sqlite:///runs/mlflow.db')
    >>> redact_text("cannot connect to 'mysql://root:hunter2@db/x': refused")
    "cannot connect to 'mysql://root:***@db/x': refused"
    >>> env = {}
    >>> hand_over("postgresql://me:pw@db/s", env, "AUTOML_STORAGE_URL")
    'env:AUTOML_STORAGE_URL'
    >>> env
    {'AUTOML_STORAGE_URL': 'postgresql://me:pw@db/s'}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from urllib.parse import unquote

from automl.exceptions import InvalidParameterError

__all__ = ["ENV_PREFIX", "MASK", "SecretURL", "hand_over", "is_env_reference", "masked_setting", "redact_text",
           "redact_url", "secret_parts", "take_over"]

#: What a secret is replaced with.
MASK = "***"
#: A command-line value ``env:NAME`` stands for the value of environment variable ``NAME``.
ENV_PREFIX = "env:"

_SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "key", "apikey", "sig", "signature",
    "credential", "credentials", "auth", "authorization", "sas", "jwt", "bearer", "session", "cookie",
})
_SECRET_ENDINGS = ("password", "passwd", "pwd", "secret", "token", "key", "signature", "credential",
                   "credentials", "passphrase")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: A URL inside a text: ``scheme://`` up to a blank, a quote or a closing bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`\])}]+")


def _is_secret_name(name: str) -> bool:
    """Whether a query parameter's name looks like it holds a secret (``X-Amz-Signature``, ``api_key``, ...)."""
    decoded = unquote(name)
    parts = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", decoded).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", parts) if w]
    whole = re.sub(r"[^a-z0-9]", "", decoded.lower())
    return (whole in _SECRET_WORDS or whole.endswith(_SECRET_ENDINGS)
            or any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words))


def _mask_query(query: str) -> str:
    pieces = []
    for piece in re.split(r"([&;])", query):
        name, sep, value = piece.partition("=")
        pieces.append(f"{name}={MASK}" if sep and value and _is_secret_name(name) else piece)
    return "".join(pieces)


def _split(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme://, userinfo, host-and-path, ?query#fragment)`` of a URL; None for a plain path."""
    match = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", url)
    if match is None:
        return None
    head, rest = match.group(0), url[match.end():]
    at = _userinfo_end(rest)
    userinfo, rest = (rest[:at], rest[at:]) if at is not None else ("", rest)
    cut = min([i for i in (rest.find("?"), rest.find("#")) if i != -1], default=len(rest))
    return head, userinfo, rest[:cut], rest[cut:]


def _userinfo_end(rest: str) -> int | None:
    """Where the ``user:password`` part of ``rest`` (a URL after ``scheme://``) ends, or None."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return authority.rfind("@")
    # A password with an unescaped "/", "?" or "#" in it ("user:pa/ss@host/db"): not valid, but seen in the wild.
    at = rest.rfind("@")
    user, colon, after = rest[:max(at, 0)].partition(":")
    if at <= 0 or not colon or re.search(r"[/?#]", user) or not user:
        return None
    port = re.split(r"[/?#]", after, maxsplit=1)[0]
    return None if port.isdigit() else at


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``.

    Plain paths (a journal file, ``sqlite:///path``, ``file:///path``) come back unchanged.

    Example:
        >>> redact_url("postgresql://me:p%40ss@db/studies")
        'postgresql://me:***@db/studies'
        >>> redact_url("https://acct.blob.core.windows.net/c?sv=2024&sig=AbC%3D&se=2030")
        'https://acct.blob.core.windows.net/c?sv=2024&sig=***&se=2030'
        >>> redact_url("mysql://reader@db/x")
        'mysql://reader@db/x'
    """
    if not isinstance(url, str):
        return url
    parts = _split(url)
    if parts is None:
        return url
    head, userinfo, body, tail = parts
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + MASK
    query, hash_mark, fragment = tail.partition("#")
    if query.startswith("?"):
        query = "?" + _mask_query(query[1:])
    if hash_mark and "=" in fragment:  # OAuth-style "#access_token=..."
        fragment = _mask_query(fragment)
    return head + userinfo + body + query + hash_mark + fragment


def secret_parts(url: str) -> list[str]:
    """The secrets in ``url`` (its password and secret query values), raw and percent-decoded.

    Example:
        >>> secret_parts("postgresql://me:p%40ss@db/x?token=t0k3n")
        ['p%40ss', 'p@ss', 't0k3n']
    """
    parts = _split(url) if isinstance(url, str) else None
    if parts is None:
        return []
    secrets: list[str] = []
    userinfo, tail = parts[1], parts[3]
    if ":" in userinfo:
        secrets.append(userinfo.split(":", 1)[1])
    for piece in re.split(r"[&;#?]", tail):
        name, sep, value = piece.partition("=")
        if sep and value and _is_secret_name(name):
            secrets.append(value)
    out: list[str] = []
    for secret in secrets:
        for form in (secret, unquote(secret)):
            if len(form) >= 3 and form not in out:  # "x" or "ab" would mask half of any message
                out.append(form)
    return out


def redact_text(text: str, *urls: str) -> str:
    """``text`` with every URL in it redacted, and the secrets of ``urls`` masked wherever they appear.

    Example:
        >>> redact_text("login failed for password s3cret", "postgresql://me:s3cret@db/x")
        'login failed for password ***'
    """
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(text))
    for url in urls:
        for secret in sorted(secret_parts(url), key=len, reverse=True):
            text = text.replace(secret, MASK)
    return text


def is_env_reference(value: object) -> bool:
    """Whether ``value`` is an ``env:NAME`` reference to an environment variable.

    Example:
        >>> is_env_reference("env:AUTOML_STORAGE_URL"), is_env_reference("runs.journal")
        (True, False)
    """
    return isinstance(value, str) and value.startswith(ENV_PREFIX) and bool(_ENV_NAME.match(value[len(ENV_PREFIX):]))


def hand_over(value: str, env: MutableMapping[str, str], name: str) -> str:
    """Put ``value`` in ``env[name]``; return ``env:NAME``, the reference to put on a child's command line.

    Args:
        value: The URL (or any secret-bearing text) the child needs.
        env: The environment the child will be started with (changed in place).
        name: The variable to use, e.g. ``"AUTOML_STORAGE_URL"``.

    Example:
        >>> env = {}
        >>> hand_over("sqlite:///x.db", env, "AUTOML_TRACKING_URL")
        'env:AUTOML_TRACKING_URL'
    """
    if not _ENV_NAME.match(name):
        raise InvalidParameterError(
            f"{name!r} is not an environment variable name; use letters, digits and '_' (e.g. AUTOML_STORAGE_URL)")
    env[name] = value
    return ENV_PREFIX + name


def take_over(value: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value an ``env:NAME`` reference stands for; any other value comes back as it is.

    Raises:
        InvalidParameterError: The variable is not set (the message names it and the fix).

    Example:
        >>> take_over("env:DB", {"DB": "postgresql://me:pw@db/s"})
        'postgresql://me:pw@db/s'
        >>> take_over("runs.journal")
        'runs.journal'
    """
    if not is_env_reference(value):
        return value
    assert value is not None
    name = value[len(ENV_PREFIX):]
    source = os.environ if environ is None else environ
    if name not in source:
        raise InvalidParameterError(f"{value!r} refers to the environment variable {name}, which is not set; "
                          f"set {name} to the URL (export {name}=...) or pass the URL itself")
    return source[name]


class SecretURL(str):
    """A URL whose ``repr`` masks its secrets; as a string (``str()``, f-strings, every library it is handed to)
    it is the URL itself.

    Why a ``str`` subclass: scikit-learn shows an estimator's settings from ``get_params`` (a Pipeline's or a
    GridSearchCV's repr, Jupyter's HTML view) through each value's ``repr``, and ``clone`` needs ``get_params`` to
    give the value itself, so the masking has to travel with the value.

    Example:
        >>> url = SecretURL("postgresql://me:pw@db/s")
        >>> url, str(url), url == "postgresql://me:pw@db/s"
        ('postgresql://me:***@db/s', 'postgresql://me:pw@db/s', True)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact_url(str(self)))

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return SecretURL, (str(self),)


def masked_setting(value: object) -> object:
    """``value`` as an estimator stores it: a URL with a secret as a :class:`SecretURL` (the same object if it is
    one already, so that ``clone`` finds the value it gave), anything else unchanged.

    Example:
        >>> type(masked_setting("mysql://root:pw@db/x")).__name__, masked_setting("runs/s.journal")
        ('SecretURL', 'runs/s.journal')
    """
    if not isinstance(value, str) or isinstance(value, SecretURL) or redact_url(value) == value:
        return value
    return SecretURL(value)
