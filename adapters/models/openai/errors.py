"""SDK failures as core errors, for every adapter that talks to an OpenAI-compatible API.

The chat model, the transcriber and the image maker share one translation, so that a 429, a
refused key or a content filter means the same to the core whichever of them met it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import openai

from core import errors

# Error codes and wording that providers use for "the prompt does not fit". OpenAI sends the code;
# llama.cpp sends the type; vLLM and others only say it in the message.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_CONTEXT_WORDING = re.compile(r"context[ _-]?(length|window|size)", re.IGNORECASE)
# OpenAI's moderation codes (its images API says ``moderation_blocked``), and Azure's content
# filter (whose detail sits in ``innererror``).
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "moderation_blocked"})
_AZURE_FILTER_CODE = "ResponsibleAIPolicyViolation"
# A 429 with this code is an exhausted billing quota, not throttling: waiting does not help, the
# operator has to act, which is what AuthFailed tells the core.
_QUOTA_CODE = "insufficient_quota"
_RATE_CODE = "rate_limit_exceeded"
# Wording of an unknown model in an error event that comes with HTTP 200 (some proxies).
# Narrow on purpose: "the model is not available right now" or "the model hit an unknown error"
# pass, and must not send the admin to fix a setting.
_UNKNOWN_MODEL = re.compile(
    r"\bmodel\b.*\b(not found|does not exist)|\b(unknown|invalid|no such) model\b",
    re.IGNORECASE,
)

_MASK = "***"


def translate(exc: BaseException, *, key: str | None = None) -> errors.ModelError:
    """The core error for a failure of the SDK, the transport or a stream; ``key`` (the API
    key) is masked wherever the server quoted it."""
    return _masked(_translate(exc), key)


def _masked(error: errors.ModelError, key: str | None) -> errors.ModelError:
    text = str(error)
    if key and key in text:
        # Some servers quote the key they rejected; the message may reach logs and the admin.
        return type(error)(text.replace(key, _MASK))
    return error


def _translate(exc: BaseException) -> errors.ModelError:
    """The core error for a failure of the SDK, the transport or the stream."""
    # Timeouts first: the SDK's timeout error is a kind of connection error.
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return errors.ModelTimeout("the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return errors.ConnectionLost(f"the connection to the model broke: {_cause(exc)}")
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc.status_code, body_of(exc.body), provider_message(exc))
    if isinstance(exc, openai.APIError):
        # An error event in the middle of a stream: no status, only the provider's error object.
        return _from_stream(body_of(exc.body), exc.message)
    if isinstance(exc, ValueError):
        # The SDK parses each event itself and lets a JSON error through as it is.
        return errors.ModelUnavailable("the model sent a response that could not be read")
    return errors.ModelError(f"the model request failed: {type(exc).__name__}: {exc}")


def from_stream_error(
    body: Mapping[str, object], message: str, *, key: str | None = None
) -> errors.ModelError:
    """The core error for an error the provider reported inside a stream (the Responses API's
    ``error`` event or failed response), from its error object ``body``."""
    return _masked(_from_stream(body, message), key)


def _from_stream(body: Mapping[str, object], message: str) -> errors.ModelError:
    classified = _classify(body, message)
    if classified is not None:
        return classified
    if body.get("code") == _RATE_CODE:  # a failed response says throttling with no status
        return errors.RateLimited(f"the provider is throttling requests: {message}")
    if _UNKNOWN_MODEL.search(message):
        return errors.ModelMisconfigured(f"the provider does not know the model: {message}")
    return errors.ModelUnavailable(f"the model failed while answering: {message}")


def _from_status(status: int, body: Mapping[str, object], detail: str) -> errors.ModelError:
    if status == 429:
        if body.get("code") == _QUOTA_CODE:
            return errors.AuthFailed(f"the API account has no quota left (HTTP 429): {detail}")
        return errors.RateLimited(f"the provider is throttling requests (HTTP 429): {detail}")
    if status in (401, 403):
        return errors.AuthFailed(f"the provider refused our credentials (HTTP {status}): {detail}")
    if status >= 500:
        return errors.ModelUnavailable(f"the provider failed (HTTP {status}): {detail}")
    if status == 408:
        return errors.ModelTimeout(f"the provider timed out (HTTP 408): {detail}")
    if status == 413:
        return errors.ContextTooLong(f"the request is too large (HTTP 413): {detail}")
    if status == 409:  # a conflict on the provider's side, which the SDK already retried
        return errors.ModelUnavailable(f"the provider failed (HTTP 409): {detail}")
    classified = _classify(body, detail)
    if classified is not None:
        return classified
    # 404 (no such model, or a wrong base URL), 400 for a parameter this server refuses, 422...:
    # the same request fails the same way until the operator changes a setting.
    return errors.ModelMisconfigured(f"the provider refused the request (HTTP {status}): {detail}")


def _classify(body: Mapping[str, object], detail: str) -> errors.ModelError | None:
    """Recognise the context-overflow and content-filter refusals whatever their status."""
    codes = {body.get("code"), body.get("type")}
    inner = body.get("innererror")
    if isinstance(inner, Mapping):
        codes.add(inner.get("code"))
    if codes & _FILTER_CODES or _AZURE_FILTER_CODE in codes:
        return errors.ContentFiltered(f"the provider's content filter refused: {detail}")
    if codes & _CONTEXT_CODES or _CONTEXT_WORDING.search(detail):
        return errors.ContextTooLong(f"the request does not fit the model's context: {detail}")
    return None


def body_of(body: object) -> Mapping[str, object]:
    return body if isinstance(body, Mapping) else {}


def provider_message(exc: openai.APIStatusError) -> str:
    """The provider's own message, without the SDK's ``Error code: ...`` dump of the body."""
    message = body_of(exc.body).get("message")
    if isinstance(message, str) and message:
        return message
    return exc.message


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
