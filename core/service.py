"""The bot: turns incoming messages into commands or model answers, with budgets and threads."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable

import attrs

from core import errors
from core.budget import Ledger, Refusal, Reservation
from core.commands import KNOWN, Command, parse_command
from core.ports import (
    AccountStore,
    ChatModel,
    Clock,
    MessageLookup,
    ReplySink,
    ReplyStream,
    ThreadStore,
    TokenCounter,
)
from core.prompts import DEFAULT_PROMPT, PromptPolicy, PromptTooLong
from core.texts import choose_language, close_code_block, number, text, without_footer
from core.threads import Thread, TooLong, build_thread
from core.values import Account, Incoming, ModelRequest, Node, Role, Sender, Usage

log = logging.getLogger(__name__)

_ERROR_TEXTS: dict[type[errors.ModelError], str] = {
    errors.RateLimited: "err_rate_limited",
    errors.ModelUnavailable: "err_unavailable",
    errors.AuthFailed: "err_auth",
    errors.ModelTimeout: "err_timeout",
    errors.ConnectionLost: "err_connection",
    errors.ContextTooLong: "err_context",
    errors.ContentFiltered: "err_filtered",
    errors.TruncatedAnswer: "err_truncated",
}


@attrs.frozen
class BotConfig:
    """The core's settings; the entrypoint builds them from the environment."""

    admin_id: int
    bot_username: str | None = None
    starting_balance: int = 30_000
    reply_cap: int = 3_000
    context_budget: int = 4_000
    min_reply_tokens: int = 50
    default_language: str = "en"
    footer: bool = True
    notify_new_users: bool = True
    notify_requests: bool = False
    prompt_max_chars: int = 2_000
    default_prompt: str = DEFAULT_PROMPT


@attrs.frozen
class _Answer:
    text: str
    usage: Usage
    cut_off: bool = False  # stopped at the reply cap, not because it was done


@attrs.define
class BotService:
    """One bot: every platform hands its messages to ``handle``."""

    config: BotConfig
    model: ChatModel
    accounts: AccountStore
    threads: ThreadStore
    sink: ReplySink
    counter: TokenCounter
    clock: Clock
    lookup: MessageLookup | None = None
    _ledger: Ledger = attrs.field(init=False)
    _policy: PromptPolicy = attrs.field(init=False)
    _in_flight: int = attrs.field(default=0, init=False)
    _idle: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _stop: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _auth_alerted: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self._ledger = Ledger(
            admin_id=self.config.admin_id,
            reply_cap=self.config.reply_cap,
            min_reply_tokens=self.config.min_reply_tokens,
        )
        self._policy = PromptPolicy(
            default=self.config.default_prompt, max_chars=self.config.prompt_max_chars
        )
        self._idle.set()

    # -- lifetime ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Take no new messages from now on (the admin's /stop, or a signal)."""
        self._stop.set()

    async def wait_for_stop(self) -> None:
        await self._stop.wait()

    async def drain(self) -> None:
        """Wait until every message being handled is done."""
        await self._idle.wait()

    def available(self, user_id: int) -> int | None:
        """What a user can spend now, net of requests in flight; None for an unknown user."""
        account = self.accounts.get(user_id)
        return None if account is None else self._ledger.available(account)

    # -- messages ------------------------------------------------------------------------------

    async def handle(self, incoming: Incoming) -> None:
        """Act on one message: answer it, run its command, or ignore it when not addressed."""
        if self.stopping:
            if incoming.private:
                await self._say(incoming, "shutting_down")
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._dispatch(incoming)
        except errors.StorageError as exc:
            log.error("storage failed while handling a message: %s", exc)
            await self._best_effort(self._notify_admin("admin_storage", detail=str(exc)))
            await self._best_effort(self._say(incoming, "err_storage"))
        except Exception:
            # One message must never stop the bot; the log has the details for a bug report.
            log.exception("handling message %s failed", incoming.message_id)
            await self._best_effort(self._say(incoming, "err_other"))
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _dispatch(self, incoming: Incoming) -> None:
        message = incoming.text.strip()
        command = parse_command(message)
        if command is not None:
            if not command.is_for(self.config.bot_username):
                return  # another bot's command
            if not incoming.private and command.target is None and command.name not in KNOWN:
                return  # in a group, a bare unknown command is probably for another bot
            await self._command(incoming, command)
            return
        if not incoming.private and not incoming.addressed and not self._replies_to_bot(incoming):
            return
        message = self._without_mention(message)
        if not message:
            await self._say(incoming, "empty_message")
            return
        account = await self._account(incoming.sender)
        await self._answer(incoming, account, message)

    async def _best_effort(self, saying: Awaitable[None]) -> None:
        """Send a message that must not turn a handled situation into a failure: a notice, or
        news of a failure. If it cannot be sent, the log is all there is."""
        try:
            await saying
        except Exception as exc:
            log.error("could not tell about a failure: %r", exc)

    def _replies_to_bot(self, incoming: Incoming) -> bool:
        if incoming.reply_to is None:
            return False
        node = self.threads.get(incoming.chat_id, incoming.reply_to)
        return node is not None and node.role is Role.ASSISTANT

    def _without_mention(self, message: str) -> str:
        name = self.config.bot_username
        if not name:
            return message
        return re.sub(rf"(?<!\w)@{re.escape(name)}\b", "", message, flags=re.IGNORECASE).strip()

    def _language(self, incoming: Incoming) -> str:
        return choose_language(incoming.sender.language, self.config.default_language)

    async def _say(self, incoming: Incoming, key: str, **values: object) -> None:
        message = text(self._language(incoming), key, **values)
        await self.sink.send(incoming.chat_id, message, _reply_to(incoming))

    async def _notify_admin(self, key: str, **values: object) -> None:
        language = self.config.default_language
        await self.sink.send(self.config.admin_id, text(language, key, **values))

    # -- accounts ------------------------------------------------------------------------------

    async def _account(self, sender: Sender) -> Account:
        """The sender's account, registered on first contact with the starting balance."""
        account = self.accounts.get(sender.id)
        if account is not None:
            return account
        account = Account.new(sender, self.config.starting_balance)
        await self.accounts.save([account])
        if self.config.notify_new_users and sender.id != self.config.admin_id:
            await self._notify_admin("admin_new_user", who=_who(sender))
        # Other messages from this user may have been answered and charged while we waited.
        return self._latest(account)

    def _latest(self, account: Account) -> Account:
        """The stored value of ``account`` now; read it with no await before the change made."""
        return self.accounts.get(account.user_id) or account

    def _is_admin(self, account: Account) -> bool:
        return account.user_id == self.config.admin_id

    # -- commands ------------------------------------------------------------------------------

    async def _command(self, incoming: Incoming, command: Command) -> None:
        name = command.name
        language = self._language(incoming)
        if name == "help":
            await self._say(incoming, "help", commands=text(language, "commands"))
            return
        if name == "stop":
            await self._stop_command(incoming)
            return
        if name == "topup":
            await self._topup(incoming, command.argument)
            return
        if name not in KNOWN:
            await self._say(incoming, "unknown_command", command="/" + name)
            return
        account = await self._account(incoming.sender)
        if name == "start":
            await self._say(
                incoming,
                "welcome",
                name=incoming.sender.name or incoming.sender.username or incoming.sender.id,
                balance=number(account.balance),
                commands=text(language, "commands"),
            )
        elif name == "balance":
            key = "balance_admin" if self._is_admin(account) else "balance"
            await self._say(incoming, key, balance=number(self._ledger.available(account)))
        elif name == "stats":
            await self._stats(incoming, account)
        elif name == "prompt":
            await self._prompt(incoming, account, command.argument)

    async def _stats(self, incoming: Incoming, account: Account) -> None:
        language = self._language(incoming)
        last = (
            account.last_request.strftime("%Y-%m-%d %H:%M:%S")
            if account.last_request
            else text(language, "never")
        )
        message = text(
            language,
            "stats",
            requests=number(account.requests),
            tokens=number(account.tokens),
            balance=number(account.balance),
            last=last,
        )
        if self._is_admin(account):
            totals = self.accounts.totals()
            message += text(
                language,
                "stats_global",
                users=number(self.accounts.accounts()),
                requests=number(totals.requests),
                tokens=number(totals.tokens),
            )
        await self.sink.send(incoming.chat_id, message, _reply_to(incoming))

    async def _prompt(self, incoming: Incoming, account: Account, argument: str) -> None:
        if not argument:
            if account.prompt:
                await self._say(incoming, "prompt_own", prompt=account.prompt)
            else:
                await self._say(
                    incoming,
                    "prompt_default",
                    prompt=self._policy.default,
                    limit=self._policy.max_chars,
                )
            return
        # Change the account as it is now, not as it was read before an await: a request of the
        # same user may have been charged meanwhile, and saving the old value would undo that.
        account = self._latest(account)
        if argument.lower() == "reset":
            await self.accounts.save([self._policy.reset(account)])
            await self._say(incoming, "prompt_reset", prompt=self._policy.default)
            return
        changed = self._policy.set_prompt(account, argument)
        if isinstance(changed, PromptTooLong):
            await self._say(
                incoming, "prompt_too_long", length=number(changed.length), limit=changed.limit
            )
            return
        await self.accounts.save([changed])
        await self._say(incoming, "prompt_set")

    async def _topup(self, incoming: Incoming, argument: str) -> None:
        """The admin adds tokens to a user's balance: ``/topup <user id> <tokens>``."""
        if incoming.sender.id != self.config.admin_id:
            await self._say(incoming, "admin_only")
            return
        words = argument.split()
        if len(words) != 2 or not words[0].isdigit() or not words[1].isdigit():
            await self._say(incoming, "topup_usage")
            return
        user_id, tokens = int(words[0]), int(words[1])
        account = self.accounts.get(user_id)
        if account is None:
            await self._say(incoming, "topup_unknown", user=user_id)
            return
        if tokens == 0:
            await self._say(incoming, "topup_usage")
            return
        # Read and changed with no await in between: a charge settling now is not undone.
        topped = attrs.evolve(account, balance=account.balance + tokens)
        await self.accounts.save([topped])
        who = _who(Sender(user_id, account.name, account.username))
        await self._say(incoming, "topup_done", who=who, balance=number(topped.balance))

    async def _stop_command(self, incoming: Incoming) -> None:
        if incoming.sender.id != self.config.admin_id:
            await self._say(incoming, "stop_admin_only")
            return
        await self._say(incoming, "stopping")
        self.request_stop()

    # -- answers -------------------------------------------------------------------------------

    async def _answer(self, incoming: Incoming, account: Account, message: str) -> None:
        thread = await self._thread(incoming, account, message, self.config.context_budget)
        if isinstance(thread, TooLong):
            await self._say(
                incoming, "too_long", tokens=number(thread.tokens), budget=thread.budget
            )
            return
        # The walk may have waited on the messenger: reserve against the balance as it is now.
        reservation = self._ledger.reserve(self._latest(account), thread.prompt_tokens)
        if isinstance(reservation, Refusal):
            await self._say(
                incoming,
                "no_balance",
                available=number(reservation.available),
                needed=number(reservation.needed),
                user=incoming.sender.id,
            )
            return
        stream = self.sink.stream(incoming.chat_id, _reply_to(incoming))
        try:
            await self.sink.typing(incoming.chat_id)
            answer = await self._run_model(incoming, account, message, thread, reservation, stream)
        except errors.ModelError as exc:
            self._ledger.release(reservation)
            await self._model_failed(incoming, exc, stream)
            return
        except Exception:
            # A bug, or an adapter failing in a way it did not translate: the user still gets
            # an answer instead of a message stuck half-written, and pays nothing.
            self._ledger.release(reservation)
            log.exception("answering message %s failed", incoming.message_id)
            await stream.finish(text(self._language(incoming), "err_other"), markdown=False)
            return
        except BaseException:  # cancelled: give the hold back and let the cancel go on
            self._ledger.release(reservation)
            raise
        await self._deliver(incoming, message, answer, reservation, stream)

    async def _thread(
        self, incoming: Incoming, account: Account, message: str, budget: int
    ) -> Thread | TooLong:
        return await build_thread(
            store=self.threads,
            lookup=self.lookup,
            counter=self.counter,
            chat_id=incoming.chat_id,
            reply_to=incoming.reply_to,
            system_prompt=self._policy.prompt_for(account),
            text=message,
            budget=budget,
            clean=without_footer,
        )

    async def _run_model(
        self,
        incoming: Incoming,
        account: Account,
        message: str,
        thread: Thread,
        reservation: Reservation,
        stream: ReplyStream,
    ) -> _Answer:
        try:
            return await self._stream_answer(thread, reservation, stream)
        except errors.ContextTooLong:
            # The provider counts differently from our estimate: keep half the tokens and retry
            # once; without history to drop there is nothing left to try.
            if not thread.history:
                raise
            smaller = await self._thread(incoming, account, message, thread.prompt_tokens // 2)
            if isinstance(smaller, TooLong) or len(smaller.history) == len(thread.history):
                raise
            return await self._stream_answer(smaller, reservation, stream)

    async def _stream_answer(
        self, thread: Thread, reservation: Reservation, stream: ReplyStream
    ) -> _Answer:
        request = ModelRequest(turns=thread.turns, max_tokens=reservation.max_tokens)
        answer = ""
        usage: Usage | None = None
        cut_off = False
        async for chunk in self.model.stream(request):
            if chunk.text:
                answer += chunk.text
                await stream.update(answer)
            if chunk.usage is not None:
                usage = chunk.usage
            cut_off = cut_off or chunk.cut_off
        if usage is None:  # the model could not say; charge an honest estimate
            usage = Usage(thread.prompt_tokens, self.counter.count(answer))
        return _Answer(answer, usage, cut_off)

    async def _model_failed(
        self, incoming: Incoming, exc: errors.ModelError, stream: ReplyStream
    ) -> None:
        log.warning("model request from user %s failed: %r", incoming.sender.id, exc)
        if isinstance(exc, errors.AuthFailed) and not self._auth_alerted:
            self._auth_alerted = True  # once per run, not on every message
            detail = str(exc) or type(exc).__name__
            await self._best_effort(self._notify_admin("admin_auth", detail=detail))
        key = next((k for kind, k in _ERROR_TEXTS.items() if isinstance(exc, kind)), "err_other")
        await stream.finish(text(self._language(incoming), key), markdown=False)

    async def _deliver(
        self,
        incoming: Incoming,
        message: str,
        answer: _Answer,
        reservation: Reservation,
        stream: ReplyStream,
    ) -> None:
        """Charge, make the charge durable, then show the final answer and remember it."""
        current = self._latest(Account.new(incoming.sender, self.config.starting_balance))
        current = attrs.evolve(
            current,
            name=incoming.sender.name or current.name,
            username=incoming.sender.username or current.username,
        )
        settlement = self._ledger.settle(
            reservation, current, self.accounts.totals(), answer.usage, self.clock.now()
        )
        language = self._language(incoming)
        try:
            await self.accounts.save([settlement.account], settlement.totals)
        except errors.StorageError as exc:
            # The answer exists and the user waited for it: deliver it, and let the operator fix
            # the disk. The store keeps the charge in memory and writes it with the next save.
            log.error("could not save the charge for user %s: %s", incoming.sender.id, exc)
            await self._best_effort(self._notify_admin("admin_storage", detail=str(exc)))
        final = answer.text or text(language, "empty_answer")
        if answer.cut_off:
            # Say why it ends mid-sentence, and how to get the rest.
            key = "cut_off_balance" if reservation.max_tokens < self.config.reply_cap else "cut_off"
            final = close_code_block(final) + text(
                language, key, limit=number(reservation.max_tokens)
            )
        if self.config.footer:
            final = close_code_block(final) + text(
                language, "footer", tokens=number(settlement.charged)
            )
        try:
            ids = await stream.finish(final)
        except Exception:
            # Charged and streamed, but the last edit failed: saying "nothing was charged" now
            # would be false, so the log is the place for it.
            log.exception("could not show the final answer to message %s", incoming.message_id)
            return
        nodes = [Node(incoming.chat_id, incoming.message_id, Role.USER, message, incoming.reply_to)]
        nodes += [
            Node(incoming.chat_id, message_id, Role.ASSISTANT, answer.text, incoming.message_id)
            for message_id in ids
        ]
        try:
            await self.threads.add(nodes)
        except errors.StorageError as exc:
            # The answer is delivered and paid; only replies to it will lack this context.
            log.error("could not save the reply chain: %s", exc)
            await self._best_effort(self._notify_admin("admin_storage", detail=str(exc)))
        if self.config.notify_requests and incoming.sender.id != self.config.admin_id:
            notice = self._notify_admin(
                "admin_request",
                who=_who(incoming.sender),
                tokens=number(settlement.charged),
                text=message[:200],
            )
            await self._best_effort(notice)


def _reply_to(incoming: Incoming) -> int | None:
    """What an answer replies to: in groups the message it answers, in private chats nothing."""
    return None if incoming.private else incoming.message_id


def _who(sender: Sender) -> str:
    """A user as the admin sees them: name, @username and id."""
    parts = [sender.name or "?"]
    if sender.username:
        parts.append("@" + sender.username.lstrip("@"))
    parts.append(f"({sender.id})")
    return " ".join(parts)
