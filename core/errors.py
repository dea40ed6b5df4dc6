"""The one error hierarchy of the bot.

Adapters translate the exceptions of their SDKs into these (``raise ModelTimeout(...) from exc``);
the core turns each into a reply the user can act on and charges nothing for a failed request.

    CoreError
    ├── ModelError              the chat model could not answer
    │   ├── RateLimited         the provider is throttling us, even after retries
    │   ├── ModelUnavailable    server error or overload on the provider's side
    │   ├── AuthFailed          bad key or no permission: the operator must act
    │   ├── ModelTimeout        no answer, or the stream stalled, within the timeout
    │   ├── ConnectionLost      the connection broke before the answer was complete
    │   ├── ContextTooLong      the provider says the thread does not fit its context
    │   ├── ContentFiltered     the provider refused the content
    │   ├── TruncatedAnswer     the stream ended without saying the answer was complete
    │   └── ModelMisconfigured  the provider does not know the model, or refuses the request
    │                           as malformed: the operator must act
    ├── StorageError            data could not be read or written
    │   └── CorruptData         a data file exists but cannot be trusted
    ├── MediaError              an attachment cannot be used
    │   ├── MediaUnavailable    the messenger can no longer fetch it (deleted, expired)
    │   ├── MediaTooLarge       it is larger than the bot accepts
    │   └── UnreadableDocument  a file that is not text the bot can read (the reason says why)
    ├── DeliveryFailed          the messenger cannot reach the chat, or gave up delivering
    ├── PaymentFailed           the payment system refused (a refund, say): the reason says why
    └── AnswerStopped           the person asked to stop the answer being streamed
"""

from __future__ import annotations


class CoreError(Exception):
    """Root of every error the core knows how to explain."""


class ModelError(CoreError):
    """The chat model failed to produce a complete answer."""


class RateLimited(ModelError):
    """The provider throttled the request."""


class ModelUnavailable(ModelError):
    """The provider had a server-side failure."""


class AuthFailed(ModelError):
    """The provider rejected our credentials or permissions."""


class ModelTimeout(ModelError):
    """The provider did not answer (or stopped streaming) in time."""


class ConnectionLost(ModelError):
    """The connection to the provider broke."""


class ContextTooLong(ModelError):
    """The request does not fit the model's context window."""


class ContentFiltered(ModelError):
    """The provider's content filter refused the request or the answer."""


class ModelMisconfigured(ModelError):
    """The provider refused the request as malformed for it: a 404, an unknown model, or
    another 4xx the adapter does not know. Retrying cannot help; the message carries the
    provider's own words for the admin."""


class TruncatedAnswer(ModelError):
    """The stream ended without a finish reason: the answer is incomplete."""


class StorageError(CoreError):
    """Persistent data could not be read or written."""


class CorruptData(StorageError):
    """A data file exists but is not valid; it is never overwritten."""


class MediaError(CoreError):
    """An attachment could not be used; nothing was charged for it."""


class MediaUnavailable(MediaError):
    """The messenger could not fetch the attachment's bytes (deleted, expired, network)."""


class MediaTooLarge(MediaError):
    """The attachment is larger than the limit the core asked for."""


class NotMedia(MediaError):
    """The attachment's bytes are not what it was sent as: a "picture" that no decoder can
    open, a "recording" with no sound that can be measured."""


class UnreadableDocument(MediaError):
    """A file the bot cannot read as text. ``reason`` says why, for the person's reply:
    ``"unsupported"`` (a kind of file the bot does not read), ``"not_text"`` (binary content
    under a text name), ``"damaged"`` (a PDF that does not parse), ``"protected"`` (a PDF
    locked by a password), ``"empty"`` (no text in it), ``"too_complex"`` (reading it went
    past the time or memory one file may take), ``"busy"`` (too many files being read);
    the message is for the log."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class DeliveryFailed(CoreError):
    """The messenger cannot reach the chat (blocked, deleted, removed from the group), or gave up
    delivering a message after waiting as long as it may."""


class PaymentFailed(CoreError):
    """The payment system refused what was asked of it (a refund); the message says why."""


class AnswerStopped(CoreError):
    """The person pressed "stop" on an answer being streamed: the model is to stop, and what it
    produced so far is kept."""


# What explains each model failure to the person: a text key of ``core.texts``.
_EXPLAINED: tuple[tuple[type[ModelError], str], ...] = (
    (RateLimited, "err_rate_limited"),
    (ModelUnavailable, "err_unavailable"),
    (AuthFailed, "err_auth"),
    (ModelMisconfigured, "err_misconfigured"),
    (ModelTimeout, "err_timeout"),
    (ConnectionLost, "err_connection"),
    (ContextTooLong, "err_context"),
    (ContentFiltered, "err_filtered"),
    (TruncatedAnswer, "err_truncated"),
)
# Failures only the operator can mend: the admin is told, with the server's words.
_OPERATORS: tuple[tuple[type[ModelError], str], ...] = (
    (AuthFailed, "admin_auth"),
    (ModelMisconfigured, "admin_misconfigured"),
)


def explanation(exc: ModelError, service: str = "answers") -> str:
    """The text key that explains ``exc`` to the person, when ``service`` ("answers",
    "voice", "image") failed: a failure only the admin can mend names the service that is
    down, not the answers that may well work."""
    key = next((key for kind, key in _EXPLAINED if isinstance(exc, kind)), "err_other")
    return key if service == "answers" or alert(exc) is None else f"{key}_{service}"


def alert(exc: ModelError) -> tuple[type[ModelError], str] | None:
    """The kind and the text key of the notice the admin gets for ``exc``; None when the
    failure is not the operator's to mend."""
    return next(((kind, key) for kind, key in _OPERATORS if isinstance(exc, kind)), None)
