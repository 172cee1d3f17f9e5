"""Kaggle's API through kagglesdk: a client with a timeout, and failures told in plain words.

kagglesdk (the client the `kaggle` package is built on) picks its server from
`KAGGLE_API_ENVIRONMENT` (PROD by default), which is how tests point it at a
local stand-in. It sets no timeout of its own, so every client made here gets
one: offline, a person waits seconds, not minutes.
"""

from __future__ import annotations

import base64
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests
from requests.adapters import HTTPAdapter

from deepfake_coach.errors import CoachError
from deepfake_coach.kaggle.credentials import API_SETTINGS_URL, FoundCredentials, KaggleAuth, find_credentials, read_auth
from deepfake_coach.kaggle.env import KaggleEnv

DATASET_REF = "xhlulu/140k-real-and-fake-faces"
DATASET_URL = f"https://www.kaggle.com/datasets/{DATASET_REF}"
ARCHIVE_HINT = f"or download the zip in your browser from {DATASET_URL} and run: dfcoach data download kaggle_140k --archive ZIP"
Timeout = float | tuple[float, float]  # seconds, or (to connect, between two reads)


class NoKaggleCredentials(CoachError):
    """No Kaggle token or key anywhere Kaggle looks."""


class KaggleOffline(CoachError):
    """Kaggle could not be reached (no network, a firewall, a proxy) or stopped answering."""


class KaggleWrongCredentials(CoachError):
    """Kaggle does not know this token or key."""


class KaggleTokenExpired(CoachError):
    """The token was valid once; it expired or was revoked."""


class KaggleRefused(CoachError):
    """Kaggle knows the person but will not do it (terms not accepted, rate limit, server trouble)."""


@dataclass(frozen=True)
class Validated:
    found: FoundCredentials
    username: str | None  # as Kaggle tells it, when it does


def no_credentials_error() -> NoKaggleCredentials:
    return NoKaggleCredentials(
        "No Kaggle credentials found (no KAGGLE_API_TOKEN, no ~/.kaggle/access_token, no kaggle.json).",
        hint=f"Run `dfcoach kaggle setup`, which shows how to get a token, {ARCHIVE_HINT}",
    )


class _TimeoutAdapter(HTTPAdapter):
    """requests has no session-wide timeout; this gives every request one, and no silent retries."""

    def __init__(self, timeout: Timeout):
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request, stream=False, timeout=None, **kwargs):
        return super().send(request, stream=stream, timeout=timeout or self._timeout, **kwargs)


@contextmanager
def kaggle_client(auth: KaggleAuth, timeout: Timeout) -> Iterator:
    """A kagglesdk `KaggleClient` signed in with `auth`, whose every request has `timeout`."""
    from kagglesdk import KaggleClient

    auth = signed_in(auth, timeout)
    client = KaggleClient(username=auth.username, password=auth.key, api_token=auth.token)
    session = session_of(client)
    adapter = _TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    with client:
        yield client


def session_of(client) -> requests.Session:
    """The requests session inside a KaggleClient (kagglesdk offers no public way to set its timeout)."""
    http = client.http_client()
    http._init_session()
    return http._session


def signed_in(auth: KaggleAuth, timeout: Timeout) -> KaggleAuth:
    """`auth` itself, or for a `kaggle auth login` sign-in the access token it gives now."""
    if auth.oauth_file is None:
        return auth
    return KaggleAuth(token=_oauth_access_token(auth.oauth_file, timeout))


def _oauth_access_token(path: Path, timeout: Timeout) -> str | None:
    """A fresh access token from `kaggle auth login`'s saved sign-in (kagglesdk refreshes it when due)."""
    from kagglesdk import KaggleCredentials

    with kaggle_client(KaggleAuth(), timeout) as client:
        credentials = KaggleCredentials.load(client, str(path))
        return credentials.get_access_token() if credentials else None


HIDDEN = "(hidden)"
_SHORTEST_SECRET = 8  # a shorter "key" is no real credential, and hiding it would blank ordinary words
_CREDENTIAL_SHAPES = (
    re.compile(r"\bKGAT_[A-Za-z0-9_-]+"),  # a Kaggle API token
    re.compile(r"\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE),  # an Authorization header's value
    re.compile(r"\b[0-9a-f]{32}\b", re.IGNORECASE),  # a kaggle.json key
)
# `"key": "..."`, `token=...`: the value of anything named like a credential
_NAMED_CREDENTIAL = re.compile(
    r"""(\b(?:api[_-]?)?(?:key|token|secret|password|access_token|refresh_token)["']?\s*[:=]\s*["']?)[^\s"',;&}]+""", re.IGNORECASE)


def _secrets_of(auth: KaggleAuth | None) -> list[str]:
    """The user's own secrets, as they may come back: as given, and as HTTP Basic sends a username and key."""
    if auth is None:
        return []
    secrets = [auth.key, auth.token]
    if auth.username and auth.key:
        pair = f"{auth.username}:{auth.key}"
        secrets += [pair, base64.b64encode(pair.encode()).decode(), base64.b64encode(pair.encode()).decode().rstrip("=")]
    if auth.oauth_file is not None:  # `kaggle auth login`'s saved sign-in: every token it holds
        try:
            saved = json.loads(Path(auth.oauth_file).read_text())
            secrets += [str(value) for key, value in saved.items() if "token" in key.lower()] if isinstance(saved, dict) else []
        except (OSError, ValueError):
            pass
    return sorted({secret for secret in secrets if secret and len(secret) >= _SHORTEST_SECRET}, key=len, reverse=True)


def hide_secrets(text: str, auth: KaggleAuth | None = None) -> str:
    """A server's words with every credential taken out, whatever it sent back: the user's own key and token
    (also inside a username:key pair or its base64, as HTTP Basic sends them) and anything shaped like one."""
    for secret in _secrets_of(auth):
        text = text.replace(secret, HIDDEN)
    for shape in _CREDENTIAL_SHAPES:
        text = shape.sub(HIDDEN, text)
    return _NAMED_CREDENTIAL.sub(lambda match: match.group(1) + HIDDEN, text)


@contextmanager
def plain_failures(found: FoundCredentials, action: str, timeout: Timeout, auth: KaggleAuth | None = None) -> Iterator[None]:
    """Turn requests' and Kaggle's errors into `CoachError`s a beginner can act on. What Kaggle said is quoted
    with the credentials of `auth` (and anything like them) taken out."""
    seconds = timeout if isinstance(timeout, (int, float)) else max(timeout)
    try:
        yield
    except requests.exceptions.HTTPError as error:
        response = error.response
        status = response.status_code if response is not None else 0
        raise failure_for_status(status, _kaggle_message(error, auth), found, action) from None
    except requests.exceptions.Timeout:
        raise KaggleOffline(
            f"Kaggle did not answer within {seconds:g} seconds while {action}.",
            hint=f"Check your internet connection and try again, {ARCHIVE_HINT}",
        ) from None
    except requests.exceptions.SSLError:
        raise KaggleOffline(
            f"The secure connection to Kaggle failed while {action}: a proxy or firewall may be in the way.",
            hint=f"Try another network, {ARCHIVE_HINT}",
        ) from None
    except requests.exceptions.ConnectionError:
        raise KaggleOffline(
            f"Could not reach Kaggle while {action}: this computer seems to be offline.",
            hint=f"Connect to the internet and run the same command again, {ARCHIVE_HINT}",
        ) from None


def failure_for_status(status: int, said: str, found: FoundCredentials, action: str) -> CoachError:
    """The error for an HTTP status Kaggle answered with."""
    said_part = f" Kaggle said: “{said}”." if said else ""
    replace = f"Create a new token at {API_SETTINGS_URL} (API section), then run: dfcoach kaggle setup --token-file FILE --replace"
    if status == 401 and "expire" in said.lower():
        return KaggleTokenExpired(f"Your Kaggle token (from {found.description}) has expired.{said_part}", hint=replace)
    if status in (400, 401):
        return KaggleWrongCredentials(
            f"Kaggle did not accept the credentials from {found.description} (HTTP {status}): "
            f"the token or key is wrong, or was deleted on Kaggle.{said_part}",
            hint=replace,
        )
    if status == 403:
        return KaggleRefused(
            f"Kaggle refused while {action} (HTTP 403).{said_part}",
            hint=f"Sign in on kaggle.com, confirm your phone number if Settings asks for it, open {DATASET_URL} and accept "
            "its terms if asked, then try again.",
        )
    if status == 404:
        return KaggleRefused(f"Kaggle could not find what dfcoach asked for while {action} (HTTP 404).{said_part}", hint=f"Check that {DATASET_URL} opens in your browser.")
    if status == 429:
        return KaggleRefused(f"Kaggle says there were too many requests (HTTP 429).{said_part}", hint="Wait a few minutes and run the same command again.")
    if status >= 500:
        return KaggleRefused(
            f"Kaggle's servers had a problem while {action} (HTTP {status}).{said_part}",
            hint=f"Try again in a few minutes, {ARCHIVE_HINT}",
        )
    return KaggleRefused(f"Kaggle answered HTTP {status} while {action}.{said_part}", hint=f"Try again later, {ARCHIVE_HINT}")


def _kaggle_message(error: requests.exceptions.HTTPError, auth: KaggleAuth | None = None) -> str:
    """Kaggle's own explanation, from its JSON body when it sent one; short, on one line, with no credential in it."""
    message = ""
    response = error.response
    if response is not None:
        try:
            body = response.json()
            message = str(body.get("message") or body.get("error") or "") if isinstance(body, dict) else ""
        except ValueError:
            message = ""
    if not message and error.args and response is not None and not str(error.args[0]).startswith(str(response.status_code)):
        message = str(error.args[0])  # kagglesdk puts the JSON message here
    message = hide_secrets(" ".join(message.split()), auth)
    return message[:200]


def validate(
    found: FoundCredentials | None = None,
    *,
    env: KaggleEnv | None = None,
    timeout: float = 10.0,
) -> Validated:
    """Ask Kaggle whether the credentials work: one real API call that only works with good ones
    (`timeout` seconds at most). Returns the `Validated` credentials (with the Kaggle user name when
    Kaggle tells it) or raises one of `NoKaggleCredentials`, `KaggleOffline`, `KaggleWrongCredentials`,
    `KaggleTokenExpired`, `KaggleRefused` (all `CoachError`s with a next step)."""
    env = KaggleEnv.resolve(env)
    found = found or find_credentials(env)
    if found is None:
        raise no_credentials_error()
    action = "checking your Kaggle credentials"
    given = read_auth(found, env)
    with plain_failures(found, action, timeout, given):
        auth = signed_in(given, timeout)
        with kaggle_client(auth, timeout) as client:
            return _ask_kaggle(client, auth, found, action)


def _ask_kaggle(client, auth: KaggleAuth, found: FoundCredentials, action: str) -> Validated:
    from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetMetadataRequest
    from kagglesdk.security.types.oauth_service import IntrospectTokenRequest

    if auth.token:
        request = IntrospectTokenRequest()
        request.token = auth.token
        try:
            response = client.security.oauth_client.introspect_token(request)
        except requests.exceptions.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if status in (400, 403, 404):  # kaggle itself reads these as "not a valid token"
                raise failure_for_status(401, _kaggle_message(error, auth), found, action) from None
            raise
        if not response.active:
            raise KaggleTokenExpired(
                f"Kaggle says the token from {found.description} is no longer active: it expired or was deleted.",
                hint=f"Create a new token at {API_SETTINGS_URL} (API section), then run: dfcoach kaggle setup --token-file FILE --replace",
            )
        return Validated(found, hide_secrets(response.username, auth) if response.username else None)  # the server's words too
    request = ApiGetDatasetMetadataRequest()
    request.owner_slug, request.dataset_slug = DATASET_REF.split("/")
    client.datasets.dataset_api_client.get_dataset_metadata(request)
    return Validated(found, auth.username)
