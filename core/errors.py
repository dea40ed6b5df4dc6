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
    │   └── TruncatedAnswer     the stream ended without saying the answer was complete
    ├── StorageError            data could not be read or written
    │   └── CorruptData         a data file exists but cannot be trusted
    ├── DeliveryFailed          the messenger cannot reach the chat, or gave up delivering
    └── AnswerStopped           the person pressed "stop" on a streamed answer
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


class TruncatedAnswer(ModelError):
    """The stream ended without a finish reason: the answer is incomplete."""


class StorageError(CoreError):
    """Persistent data could not be read or written."""


class CorruptData(StorageError):
    """A data file exists but is not valid; it is never overwritten."""


class DeliveryFailed(CoreError):
    """The messenger cannot reach the chat (blocked, kicked, deleted) or gave up delivering.

    Raised by ``ReplySink.send`` and by ``ReplyStream.update`` / ``finish``.
    """


class AnswerStopped(CoreError):
    """The person pressed "stop" on a streamed answer; raised by ``ReplyStream.update``."""
