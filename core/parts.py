"""What every use case is given: the bot's settings and the ports it works through, in one
frozen bundle built once by the service, and the courtesies every use case needs alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from core import errors
from core.config import BotConfig
from core.notices import Notices
from core.ports import AccountStore, Clock, MediaProbe, MediaSource, ThreadStore
from core.replies import Replies
from core.values import ChatId, Incoming, Node

log = logging.getLogger(__name__)


@attrs.frozen
class Parts:
    config: BotConfig
    accounts: AccountStore
    threads: ThreadStore
    replies: Replies
    notices: Notices
    clock: Clock
    media: MediaSource | None = None  # None: the messenger sends no media
    probe: MediaProbe | None = None  # None: media are taken for what they are declared

    async def remember(self, nodes: Sequence[Node]) -> None:
        """Save reply-chain nodes. A failure is logged and the admin told: what was shown
        stands, only replies to it will lack this context."""
        try:
            await self.threads.add(nodes)
        except errors.StorageError as exc:
            log.error("could not save the reply chain: %s", exc)
            self.notices.post("admin_storage", detail=str(exc))

    async def typing(self, chat_id: ChatId) -> bool:
        """Show "typing…" in ``chat_id``; False when the chat cannot be reached at all. Any
        other failure is only logged: typing is a courtesy the work can do without."""
        try:
            await self.replies.sink.typing(chat_id)
        except errors.DeliveryFailed as exc:
            log.warning("chat %s unreachable: %s", chat_id, exc)
            return False
        except Exception as exc:
            log.warning("could not show typing in chat %s: %r", chat_id, exc)
        return True

    async def model_failed(
        self, incoming: Incoming, exc: errors.ModelError, key: str, service: str
    ) -> None:
        """Tell the person that ``service`` ("voice", "image") failed, with the text ``key`` and
        the failure explained as its ``reason``; the admin is told when it is theirs to mend."""
        self.notices.model_failed(exc, service)
        reason = self.replies.text(incoming, errors.explanation(exc, service))
        await self.replies.say(incoming, key, reason=reason)
