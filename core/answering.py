"""Answering a message with the model: thread -> hold -> stream -> charge -> show -> remember.

The order is the point: the charge is made durable before the final answer is shown as paid; a
request that fails holds nothing and costs nothing; an answer nobody saw costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import attrs

from core import budget, charges, errors
from core.models import Catalogue, ModelOption
from core.modes import SHIPPED, Mode, ModeBook
from core.parts import Parts
from core.ports import ChatModel, MessageLookup, ReplyStream, TokenCounter, shows_reasoning
from core.prompts import PromptPolicy
from core.replies import reply_to, who
from core.retrying import LastMessages
from core.speaking import Narrator
from core.texts import close_code_block, without_footer
from core.threads import Thread, TooLong, build_thread
from core.tokens import prompt_tokens
from core.values import (
    Account,
    Attachment,
    Chunk,
    Hold,
    Image,
    Incoming,
    ModelRequest,
    Node,
    Offer,
    Role,
    Source,
    Turn,
    Usage,
)

log = logging.getLogger(__name__)

# What replaces an older picture of the conversation that can no longer be fetched.
PICTURE_GONE = "[picture no longer available]"


@attrs.frozen
class ModelAnswer:
    """What the model produced for one request."""

    text: str
    usage: Usage
    thread: Thread
    max_tokens: int
    cut_off: bool = False  # stopped at the reply cap, not because it was done
    stopped: bool = False  # the person pressed stop
    unreachable: bool = False  # the chat could no longer be written to
    shown: bool = False  # some of it reached the person before that
    sources: tuple[Source, ...] = ()  # the pages a web search found and the answer cites


@attrs.define
class Answerer:
    parts: Parts
    models: Mapping[str, ChatModel]  # by the name of the option offered
    catalogue: Catalogue
    counter: TokenCounter
    policy: PromptPolicy
    lookup: MessageLookup | None = None
    narrator: Narrator | None = None  # reads answers aloud for those who asked (/voice on)
    modes: ModeBook = SHIPPED
    # Each person's last message in each chat, for /retry (``core.retrying``).
    last: LastMessages = attrs.field(factory=LastMessages)

    async def answer(
        self,
        incoming: Incoming,
        account: Account,
        message: str,
        pictures: tuple[Attachment, ...] = (),
    ) -> bool:
        """Answer ``message``; whether an answer was given and charged (False: the person was
        told why not, and nothing was charged)."""
        self.last.remember(incoming, message, pictures)
        option = self.catalogue.of(account)
        if pictures and not option.vision:
            await self.parts.replies.say(incoming, "no_vision", model=option.name)
            return False
        mode = self.modes.of(account)
        # A mode that says whether to search decides; otherwise the person's /search does.
        wants = mode.search if mode is not None and mode.search is not None else account.search
        searches = self.parts.config.max_searches if wants and option.web_search else 0
        request = _Request(incoming, account, message, pictures, option, searches, mode)
        thread = await self._thread(
            request, option.context_budget or self.parts.config.context_budget
        )
        if isinstance(thread, TooLong):
            await self.parts.replies.say(
                incoming, "too_long", tokens=thread.tokens, budget=thread.budget
            )
            return False
        seen = await self._see(incoming, thread)
        if seen is None:
            return False
        thread = seen
        hold: Hold | None = None
        reply_cap = option.reply_cap or self.parts.config.reply_cap
        max_tokens = reply_cap
        # The searches the answer may run are held at their price, on top of its tokens.
        searching = searches * self.parts.config.search_price
        if account.user_id != self.parts.config.admin_id and (option.price > 0 or searching):
            limits = budget.bounds(
                thread.prompt_tokens, reply_cap, self.parts.config.min_reply_tokens
            )
            minimum = budget.cost(limits.minimum, option.price) + searching
            hold = await self.parts.accounts.hold(
                account.user_id, minimum, budget.cost(limits.maximum, option.price) + searching
            )
            if hold is None:
                await self._refuse(incoming, minimum)
                return False
            affordable = budget.affordable(hold.amount - searching, option.price)
            max_tokens = min(reply_cap, affordable - thread.prompt_tokens)
        stream = self.parts.replies.sink.stream(incoming.chat_id, reply_to(incoming))
        try:
            answer = await self._produce(request, thread, max_tokens, stream)
        except BaseException:
            await charges.give_back(self.parts, hold)
            raise
        if answer is None or (answer.unreachable and not answer.shown):
            # Failed (and said so), or nobody saw a word of it: nothing is charged.
            await charges.give_back(self.parts, hold)
            if answer is not None:
                log.warning("chat %s unreachable; the answer was dropped unpaid", incoming.chat_id)
            return False
        return await self._deliver(request, answer, hold, stream)

    async def _refuse(self, incoming: Incoming, needed: int) -> None:
        available = await charges.available(self.parts.accounts, incoming.sender.id)
        await self.parts.replies.say(
            incoming, "no_balance", available=available, needed=needed, user=incoming.sender.id
        )

    async def _thread(self, request: _Request, budget_tokens: int) -> Thread | TooLong:
        sees = request.option.vision and self.parts.media is not None
        return await build_thread(
            store=self.parts.threads,
            lookup=self.lookup,
            counter=self.counter,
            chat_id=request.incoming.chat_id,
            reply_to=request.incoming.reply_to,
            system_prompt=self.policy.prompt_for(
                request.account,
                request.mode.prompt(self.parts.replies.language(request.incoming))
                if request.mode
                else None,
            ),
            text=request.message,
            budget=budget_tokens,
            clean=without_footer,
            attachments=request.pictures,
            pictures=self.parts.config.max_thread_images if sees else 0,
        )

    async def _see(self, incoming: Incoming, thread: Thread) -> Thread | None:
        """``thread`` with the bytes of its pictures, fetched again from the messenger; None
        when the new message's own picture cannot be had (the person was told). An older
        picture that is gone becomes a note in its turn's text."""
        if self.parts.media is None or not any(t.attachments for t in thread.turns):
            return thread
        history = [await self._fetched(incoming, turn) for turn in thread.history]
        try:
            message = await self._fetched(incoming, thread.message, required=True)
        except errors.MediaError as exc:
            log.info("could not fetch the picture of message %s: %r", incoming.message_id, exc)
            if isinstance(exc, errors.MediaTooLarge):
                limit = f"{self.parts.config.max_image_bytes / 1_000_000:g}"
                await self.parts.replies.say(incoming, "picture_too_large", megabytes=limit)
            elif isinstance(exc, errors.NotMedia):
                await self.parts.replies.say(incoming, "picture_unreadable")
            else:
                await self.parts.replies.say(incoming, "media_unavailable")
            return None
        return attrs.evolve(thread, history=tuple(history), message=message)

    async def _fetched(self, incoming: Incoming, turn: Turn, *, required: bool = False) -> Turn:
        assert self.parts.media is not None
        images: list[Image] = []
        kept: list[Attachment] = []
        gone = 0
        for picture in turn.attachments:
            try:
                data = await self.parts.media.fetch(
                    incoming.chat_id, picture, self.parts.config.max_image_bytes
                )
            except errors.MediaError:
                if required:
                    raise
                gone += 1
                continue
            # What the messenger declared, unless a probe reads the bytes (it always does in a
            # bot put together by the composition root).
            kind = picture.mime or "image/jpeg"
            if self.parts.probe is not None:
                # Checked before anything is held: a file called .png may hold anything.
                checked = await self.parts.probe.picture(data)
                if checked is None:
                    if required:
                        raise errors.NotMedia(f"{picture.ref}: no decoder opens it as a picture")
                    gone += 1
                    continue
                kind = checked
            kept.append(picture)
            images.append(Image(data, kind))
        text = turn.text
        if gone:
            text = " ".join([PICTURE_GONE] * gone) + (f"\n{text}" if text else "")
        return Turn(turn.role, text, tuple(kept), tuple(images))

    # -- the model -----------------------------------------------------------------------------

    async def _produce(
        self, request: _Request, thread: Thread, max_tokens: int, stream: ReplyStream
    ) -> ModelAnswer | None:
        """The model's answer, streamed; None when it failed and the person was told."""
        incoming = request.incoming
        model = self.models[request.option.name]
        if not await self.parts.typing(incoming.chat_id):
            return None  # nobody to answer: the model is not asked
        streamed = _Streamed()
        try:
            try:
                return await self._stream(request, model, thread, max_tokens, stream, streamed)
            except errors.ContextTooLong:
                # The server counts differently from our estimate: keep half the tokens (all
                # that the new message leaves, when it is more than half) and retry once;
                # without history to leave out there is nothing left to try, and an answer
                # already under way was no overflow.
                alone = prompt_tokens(self.counter, (thread.system, thread.message))
                smaller = await self._thread(request, max(thread.prompt_tokens // 2, alone))
                if (
                    streamed.text
                    or not thread.history
                    or isinstance(smaller, TooLong)
                    or len(smaller.history) == len(thread.history)
                ):
                    raise
                seen = await self._see(incoming, smaller)
                if seen is None:
                    return None
                return await self._stream(request, model, seen, max_tokens, stream, streamed)
        except errors.ModelError as exc:
            await self._failed(request, thread, exc, stream, streamed.text)
            return None
        except Exception:
            # A bug, or an adapter failing in a way it did not translate: the person still gets
            # an answer instead of a message stuck half-written, and pays nothing.
            log.exception("answering message %s failed", incoming.message_id)
            failure = self.parts.replies.text(incoming, "err_other")
            await self._show_failure(incoming, stream, failure, streamed.text, retry=True)
            return None

    async def _stream(
        self,
        request: _Request,
        model: ChatModel,
        thread: Thread,
        max_tokens: int,
        stream: ReplyStream,
        streamed: _Streamed,
    ) -> ModelAnswer:
        # The thread's root names the conversation: a provider caches its shared start.
        root = thread.root or request.incoming.message_id
        asked = ModelRequest(
            thread.turns,
            max_tokens,
            conversation=f"{request.incoming.chat_id}:{root}",
            searches=request.searches,
            temperature=request.mode.temperature if request.mode else None,
        )
        chunks = model.stream(asked)
        text = reasoning = ""
        usage: Usage | None = None
        sources: tuple[Source, ...] = ()
        cut_off = stopped = unreachable = False
        # The reasoning is shown, never kept: the thread sent back to the model is the answers.
        thinks = shows_reasoning(stream)
        try:
            async for chunk in chunks:
                if chunk.text or (chunk.reasoning and thinks):
                    text += chunk.text
                    reasoning += chunk.reasoning
                    streamed.text = text
                    try:
                        if chunk.reasoning and shows_reasoning(stream):
                            await stream.reason(reasoning)
                        if chunk.text:
                            await stream.update(text)
                    except errors.AnswerStopped:
                        stopped = True
                        break
                    except errors.DeliveryFailed as exc:
                        log.warning("stopped an answer nobody can receive: %s", exc)
                        unreachable = True
                        break
                if chunk.usage is not None:
                    usage = chunk.usage
                sources += chunk.sources
                cut_off = cut_off or chunk.cut_off
        finally:
            await _close(chunks)  # stops the model's request when we broke off
        if usage is not None and not budget.reported(usage):
            log.warning("the model reported impossible usage %s: estimating instead", usage)
            usage = None
        if usage is None or stopped or unreachable:  # the model could not say: estimate
            # Reasoning is billed as completion tokens too.
            produced = self.counter.count(reasoning + text)
            usage = Usage(thread.prompt_tokens, produced, estimated=True)
        return ModelAnswer(
            text,
            usage,
            thread,
            max_tokens,
            cut_off,
            stopped,
            unreachable,
            shown=stream.shown,
            sources=sources,
        )

    async def _failed(
        self,
        request: _Request,
        thread: Thread,
        exc: errors.ModelError,
        stream: ReplyStream,
        streamed: str,
    ) -> None:
        incoming = request.incoming
        log.warning("model request from user %s failed: %r", incoming.sender.id, exc)
        self.parts.notices.model_failed(exc)
        key = errors.explanation(exc)
        if isinstance(exc, errors.ContextTooLong) and not thread.history:
            key = "err_context_single"  # it is a new conversation already
        failure = self.parts.replies.text(incoming, key)
        # Trying again can help unless the request itself is what the model refuses.
        retry = not isinstance(exc, errors.AuthFailed | errors.ModelMisconfigured)
        retry = retry and not isinstance(exc, errors.ContextTooLong)
        ids = await self._show_failure(incoming, stream, failure, streamed, retry=retry)
        # A reply to the error continues the conversation the failed request belonged to.
        notes = [Node(incoming.chat_id, i, None, "", incoming.message_id) for i in ids]
        await self.parts.remember([request.node(), *notes])

    async def _show_failure(
        self,
        incoming: Incoming,
        stream: ReplyStream,
        failure: str,
        streamed: str = "",
        *,
        retry: bool = False,
    ) -> list[str]:
        """Finish the answer with ``failure``; below the text ``streamed`` so far, when the
        model broke off mid-answer: what the person was reading stays (unpaid). ``retry``:
        offer /retry for this message under it."""
        offer = None
        if retry:
            label = self.parts.replies.text(incoming, "retry_button")
            offer = Offer(label, f"/retry {incoming.message_id}")
        try:
            if not streamed.strip():
                return list(await stream.finish(failure, markdown=False, offer=offer))
            shown = f"{close_code_block(streamed)}\n\n({failure})"
            return list(await stream.finish(shown, offer=offer))
        except Exception as exc:
            log.error("could not tell chat %s of a failure: %r", incoming.chat_id, exc)
            return []

    # -- the charge and the final answer -------------------------------------------------------

    async def _deliver(
        self, request: _Request, answer: ModelAnswer, hold: Hold | None, stream: ReplyStream
    ) -> bool:
        """Charge, make the charge durable, then show the final answer and remember it;
        False when it could not be delivered (and the charge was reversed)."""
        incoming = request.incoming
        user_id = incoming.sender.id
        config = self.parts.config
        settlement = budget.Settlement(
            answer.usage,
            None if hold is None else hold.amount,
            self.parts.clock.now(),
            price=budget.Tariff(
                request.option.price, config.cached_input_price, config.search_price
            ),
        )
        paid = True
        charged = 0
        try:
            posted = await self.parts.accounts.settle(user_id, settlement, hold)
            charged = 0 if posted is None else posted.charged
        except Exception as exc:
            # The answer exists and the person waited for it: it is shown, marked as not
            # charged, and the operator is told to mend the disk (a store that raises changed
            # nothing). The hold is given back after the answer is shown: with the database
            # gone that fails too, and nothing may keep the answer from being finished.
            paid = False
            if isinstance(exc, errors.StorageError):
                log.error("could not save the charge for user %s: %s", user_id, exc)
            else:
                log.exception("could not save the charge for user %s", user_id)
            self.parts.notices.post("admin_storage", detail=str(exc) or type(exc).__name__)
        except BaseException:
            await charges.give_back(self.parts, hold)  # a cancel: the hold must not outlive it
            raise
        try:
            return await self._show(request, answer, hold, stream, charged, paid)
        finally:
            if not paid:
                await charges.give_back(self.parts, hold)

    async def _show(
        self,
        request: _Request,
        answer: ModelAnswer,
        hold: Hold | None,
        stream: ReplyStream,
        charged: int,
        paid: bool,
    ) -> bool:
        """Show the final answer (charged ``charged``, or not ``paid``) and remember it."""
        incoming = request.incoming
        user_id = incoming.sender.id
        if answer.unreachable:
            log.warning(
                "chat %s became unreachable mid-answer; charged %s for what was shown",
                incoming.chat_id,
                charged,
            )
            return True
        try:
            ids = await stream.finish(self._final(request, answer, charged, paid))
        except errors.DeliveryFailed as exc:
            await self._undelivered(incoming, charged, hold, exc)
            return False
        except Exception:
            # Charged and streamed, but the last edit failed in a way the adapter did not
            # explain: saying "nothing was charged" now would be false, so the log has it.
            log.exception("could not show the final answer to message %s", incoming.message_id)
            return True
        nodes = [request.node()]
        nodes += [
            Node(incoming.chat_id, i, Role.ASSISTANT, answer.text, incoming.message_id) for i in ids
        ]
        await self.parts.remember(nodes)
        if self.parts.config.notify_requests and user_id != self.parts.config.admin_id:
            self.parts.notices.post(
                "admin_request",
                who=who(incoming.sender),
                tokens=charged,
                text=request.message[:200],
            )
        if self.narrator is not None and paid and not answer.stopped:
            last = ids[-1] if ids else reply_to(incoming)
            await self.narrator.follow(incoming, request.account, answer.text, last)
        return True

    def _final(self, request: _Request, answer: ModelAnswer, charged: int, paid: bool) -> str:
        """The answer as shown: the model's text and the bot's notes below it."""
        incoming = request.incoming
        final = (
            answer.text
            if answer.text.strip()
            else self.parts.replies.text(incoming, "empty_answer")
        )
        if answer.sources:
            final = close_code_block(final) + self._sources(incoming, answer.sources)
        notes: list[str] = []
        if answer.cut_off:
            # Say why it ends mid-sentence, and how to get the rest.
            lowered = answer.max_tokens < (request.option.reply_cap or self.parts.config.reply_cap)
            key = "cut_off_balance" if lowered else "cut_off"
            notes.append(self.parts.replies.text(incoming, key, limit=answer.max_tokens))
        if answer.stopped:
            notes.append(self.parts.replies.text(incoming, "stopped"))
        if answer.thread.dropped:
            notes.append(self.parts.replies.text(incoming, "dropped"))
        if not paid:
            notes.append(self.parts.replies.text(incoming, "not_charged_storage"))
        elif self.parts.config.footer:
            # What the model used, and what the balance paid when that is another number (a
            # price, a free model, a charge capped at the hold); the admin pays nothing.
            usage = answer.usage
            used = usage.total
            admin = incoming.sender.id == self.parts.config.admin_id
            key = "footer" if admin or charged == used else "footer_charged"
            # Cached input is cheaper: the footer says how much of the prompt was.
            key += "_estimated" if usage.estimated else "_cached" if usage.cached_tokens else ""
            footer = self.parts.replies.text(
                incoming, key, tokens=used, charged=charged, cached=usage.cached_tokens
            )
            if usage.searches:
                footer += self.parts.replies.text(incoming, "footer_searches", n=usage.searches)
            notes.append(footer)
        return close_code_block(final) + "".join(notes) if notes else final

    def _sources(self, incoming: Incoming, sources: tuple[Source, ...]) -> str:
        """The pages the answer cites, as Markdown links below it."""
        lines = [
            f"{number}. [{_link_text(source.title or source.url)}]({source.url})"
            for number, source in enumerate(sources, 1)
        ]
        return self.parts.replies.text(incoming, "sources", links="\n".join(lines))

    async def _undelivered(
        self, incoming: Incoming, charged: int, hold: Hold | None, exc: Exception
    ) -> None:
        """The final answer cannot reach the person: the charge is reversed."""
        log.warning("answer to message %s not delivered (%s): refunding", incoming.message_id, exc)
        if charged:
            await charges.refund(
                self.parts.accounts,
                incoming.sender.id,
                charged,
                admin=hold is None,
                at=self.parts.clock.now(),
            )
        self.parts.notices.post("admin_not_delivered", who=who(incoming.sender))


@attrs.define
class _Streamed:
    """The text of the answer as far as the model streamed it: what stays shown if it breaks."""

    text: str = ""


def _link_text(title: str) -> str:
    """A title that cannot end its Markdown link early."""
    return " ".join(title.replace("[", "(").replace("]", ")").split())


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


@attrs.frozen
class _Request:
    """One message being answered, and the model chosen for it."""

    incoming: Incoming
    account: Account
    message: str
    pictures: tuple[Attachment, ...]
    option: ModelOption
    searches: int = 0  # web searches the answer may run (the person turned /search on)
    mode: Mode | None = None  # the person's mode: its prompt and temperature

    def node(self) -> Node:
        """The person's turn, as the thread remembers it."""
        incoming = self.incoming
        return Node(
            incoming.chat_id,
            incoming.message_id,
            Role.USER,
            self.message,
            incoming.reply_to,
            self.pictures,
        )
