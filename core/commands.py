"""Commands: ``/name argument``, one handler per command, registered in a table.

The messenger adapter has already decided that a command is meant for this bot and removed any
platform's own addressing of commands: the core sees ``/name argument`` only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

import attrs

from core import budget
from core.access import Gate
from core.allowances import Allowances, when
from core.drawing import Painter
from core.models import Catalogue
from core.modes import DEFAULT_MODE, SHIPPED, Mode, ModeBook
from core.parts import Parts
from core.prompts import PromptPolicy, PromptTooLong
from core.replies import who
from core.speaking import Narrator
from core.texts import text
from core.values import Account, Incoming, Sender, access_key

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?=\s|$)")
# Amounts an admin may move at once: far beyond any real balance, well inside what every store
# writes back exactly.
MAX_TOPUP = 10**12
USERS_PER_PAGE = 20


@attrs.frozen
class Command:
    name: str  # lower case
    argument: str  # the rest of the text, stripped


def parse_command(message: str) -> Command | None:
    """The command at the start of ``message``, or None when it is not a command."""
    match = _COMMAND.match(message)
    if match is None:
        return None
    return Command(match.group(1).lower(), message[match.end() :].strip())


Handler = Callable[[Incoming, Account, str], Awaitable[None]]


@attrs.frozen
class Spec:
    handler: Handler
    admin: bool = False  # only the admin may run it


@attrs.define
class Commands:
    """The bot's commands; ``table`` maps each name to its handler."""

    parts: Parts
    policy: PromptPolicy
    request_stop: Callable[[], None]
    catalogue: Catalogue
    painter: Painter
    gate: Gate
    allowances: Allowances
    narrator: Narrator | None = None  # None: /voice is refused
    modes: ModeBook = SHIPPED
    retry: Handler | None = None  # /retry (``core.retrying``); None: not offered
    table: Mapping[str, Spec] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.table = {
            "start": Spec(self.start),
            "help": Spec(self.help),
            "balance": Spec(self.balance),
            "stats": Spec(self.stats),
            "prompt": Spec(self.prompt),
            "model": Spec(self.model),
            "mode": Spec(self.mode),
            **({"retry": Spec(self.retry)} if self.retry else {}),
            "image": Spec(self.image),
            "voice": Spec(self.voice),
            "search": Spec(self.search),
            "topup": Spec(self.topup, admin=True),
            "ban": Spec(self.ban, admin=True),
            "unban": Spec(self.unban, admin=True),
            "allow": Spec(self.allow, admin=True),
            "disallow": Spec(self.disallow, admin=True),
            "users": Spec(self.users, admin=True),
            "allowance": Spec(self.allowance, admin=True),
            "stop": Spec(self.stop, admin=True),
        }

    def menu(self, language: str, *, admin: bool = False) -> list[tuple[str, str]]:
        """The commands with a line of description each, for a help text or a messenger menu."""
        return [
            (name, text(language, f"cmd_{name}"))
            for name, spec in self.table.items()
            if spec.admin == admin and self._offered(name)
        ]

    def _offered(self, name: str) -> bool:
        """Whether the menu lists ``name``: /search only where a model can search (typed
        elsewhere, it is refused plainly)."""
        return name != "search" or any(o.web_search for o in self.catalogue.options)

    async def run(self, incoming: Incoming, command: Command, account: Account) -> None:
        spec = self.table.get(command.name)
        if spec is None:
            await self.parts.replies.say(incoming, "unknown_command", command="/" + command.name)
            return
        if spec.admin and account.user_id != self.parts.config.admin_id:
            key = "stop_admin_only" if command.name == "stop" else "admin_only"
            await self.parts.replies.say(incoming, key)
            return
        await spec.handler(incoming, account, command.argument)

    def _commands(self, incoming: Incoming) -> str:
        language = self.parts.replies.language(incoming)
        lines = [f"/{name} - {about}" for name, about in self.menu(language)]
        if incoming.sender.id == self.parts.config.admin_id:
            lines += ["", text(language, "admin_commands_title")]
            lines += [f"/{name} {about}" for name, about in self.menu(language, admin=True)]
        return "\n".join(lines)

    async def _fresh(self, account: Account) -> Account:
        """The account as stored now: answers may have been charged since it was read."""
        return await self.parts.accounts.get(account.user_id) or account

    # -- everyone ------------------------------------------------------------------------------

    async def start(self, incoming: Incoming, account: Account, argument: str) -> None:
        sender = incoming.sender
        await self.parts.replies.say(
            incoming,
            "welcome",
            name=sender.name or sender.username or sender.id,
            balance=account.balance,
            commands=self._commands(incoming),
        )

    async def help(self, incoming: Incoming, account: Account, argument: str) -> None:
        await self.parts.replies.say(incoming, "help", commands=self._commands(incoming))

    async def balance(self, incoming: Incoming, account: Account, argument: str) -> None:
        account = await self._fresh(account)
        if account.user_id == self.parts.config.admin_id:
            await self.parts.replies.say(incoming, "balance_admin", balance=account.balance)
            return
        held = await self.parts.accounts.held(account.user_id)
        if held:
            shown = self.parts.replies.text(
                incoming, "balance_held", balance=account.balance, held=held
            )
        else:
            shown = self.parts.replies.text(incoming, "balance", balance=account.balance)
        shown += self._mode_note(incoming, account)
        await self.parts.replies.send(incoming, shown + self._refill_note(incoming, account))

    def _mode_note(self, incoming: Incoming, account: Account) -> str:
        """The line /balance adds about the mode, when one other than the default is chosen:
        and whether the person's own prompt stands in for the mode's."""
        mode = self.modes.of(account)
        if mode is None or mode.name == DEFAULT_MODE:
            return ""
        key = "balance_mode_own_prompt" if account.prompt else "balance_mode"
        return self.parts.replies.text(incoming, key, mode=mode.name)

    def _refill_note(self, incoming: Incoming, account: Account) -> str:
        """The line /balance adds about the next refill; empty without an allowance."""
        refill = self.allowances.next(account)
        if refill is None:
            return ""
        language = self.parts.replies.language(incoming)
        return text(
            language, "balance_refill", tokens=refill.tokens, when=when(language, refill.at)
        )

    async def stats(self, incoming: Incoming, account: Account, argument: str) -> None:
        account = await self._fresh(account)
        last = (
            account.last_request.strftime("%Y-%m-%d %H:%M:%S")
            if account.last_request
            else self.parts.replies.text(incoming, "never")
        )
        message = self.parts.replies.text(
            incoming,
            "stats",
            requests=account.requests,
            tokens=account.tokens,
            balance=account.balance,
            last=last,
        )
        if account.user_id == self.parts.config.admin_id:
            totals = await self.parts.accounts.totals()
            overall = self.parts.replies.text(
                incoming,
                "stats_global",
                users=await self.parts.accounts.count(),
                requests=totals.requests,
                tokens=totals.tokens,
            )
            if incoming.private:
                message += overall
            else:  # the totals are the admin's business, not the group's
                self.parts.notices.post_text(overall.strip())
                message += "\n\n" + self.parts.replies.text(incoming, "stats_global_private")
        await self.parts.replies.send(incoming, message)

    async def prompt(self, incoming: Incoming, account: Account, argument: str) -> None:
        if not argument:
            mode = self.modes.of(account)
            language = self.parts.replies.language(incoming)
            mode_prompt = mode.prompt(language) if mode else None
            if account.prompt:
                await self.parts.replies.say(incoming, "prompt_own", prompt=account.prompt)
            elif mode is not None and mode_prompt:
                await self.parts.replies.say(
                    incoming,
                    "prompt_mode",
                    mode=mode.name,
                    prompt=mode_prompt,
                    limit=self.policy.max_chars,
                )
            else:
                await self.parts.replies.say(
                    incoming,
                    "prompt_default",
                    prompt=self.policy.default,
                    limit=self.policy.max_chars,
                )
            return
        if argument.lower() == "reset":
            await self.parts.accounts.change(account.user_id, self.policy.reset)
            await self.parts.replies.say(incoming, "prompt_reset", prompt=self.policy.default)
            return
        checked = self.policy.set_prompt(account, argument)
        if isinstance(checked, PromptTooLong):
            await self.parts.replies.say(
                incoming, "prompt_too_long", length=checked.length, limit=checked.limit
            )
            return
        prompt = checked.prompt
        await self.parts.accounts.change(account.user_id, lambda a: attrs.evolve(a, prompt=prompt))
        await self.parts.replies.say(incoming, "prompt_set")

    async def model(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/model``: the models offered and their prices; ``/model <name>``: choose one."""
        current = self.catalogue.of(account)
        if not argument:
            await self.parts.replies.say(
                incoming, "models", models=self._models(incoming, current.name)
            )
            return
        chosen = self.catalogue.find(argument)
        if chosen is None:
            await self.parts.replies.say(
                incoming,
                "model_unknown",
                name=argument,
                models=self._models(incoming, current.name),
            )
            return
        name = chosen.name
        await self.parts.accounts.change(account.user_id, lambda a: attrs.evolve(a, model=name))
        await self.parts.replies.say(incoming, "model_set", model=name)

    def _models(self, incoming: Incoming, current: str) -> str:
        lines = []
        for option in self.catalogue.options:
            key = "model_line_current" if option.name == current else "model_line"
            line = self.parts.replies.text(
                incoming, key, model=option.name, price=f"{option.price:g}"
            )
            if option.vision:
                line += self.parts.replies.text(incoming, "model_sees")
            if option.description:
                line += f" — {option.description}"
            lines.append(line)
        return "\n".join(lines)

    async def search(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/search on|off``: whether answers may search the web; alone, which it is. A model
        whose server has no web search refuses ``on`` plainly."""
        word = argument.strip().lower()
        if word not in ("on", "off"):
            key = "search_state_on" if account.search else "search_state_off"
            await self.parts.replies.say(incoming, key)
            return
        option = self.catalogue.of(account)
        if word == "on" and not option.web_search:
            await self.parts.replies.say(incoming, "search_unavailable", model=option.name)
            return
        wanted = word == "on"
        await self.parts.accounts.change(account.user_id, lambda a: attrs.evolve(a, search=wanted))
        if wanted:
            price = self.parts.config.search_price
            await self.parts.replies.say(incoming, "search_on", model=option.name, price=price)
        else:
            await self.parts.replies.say(incoming, "search_off")

    async def mode(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/mode``: the modes, the person's marked; ``/mode <name>`` switches, ``/mode off``
        goes back to the default. Switching clears the person's own prompt (``core.modes``)."""
        current = self.modes.of(account)
        if not argument:
            await self.parts.replies.say(incoming, "modes", modes=self._modes(incoming, current))
            return
        wanted = argument.strip().lower()
        chosen = None if wanted == "off" else self.modes.find(wanted)
        if chosen is None and wanted not in {"off", DEFAULT_MODE}:
            await self.parts.replies.say(
                incoming, "mode_unknown", name=argument, modes=self._modes(incoming, current)
            )
            return
        name = None if chosen is None or chosen.name == DEFAULT_MODE else chosen.name
        model = chosen.model if chosen is not None else None

        def switched(a: Account) -> Account:
            return attrs.evolve(a, mode=name, prompt=None, model=model or a.model)

        await self.parts.accounts.change(account.user_id, switched)
        said = self.parts.replies.text(incoming, "mode_set", mode=name) if name else ""
        said = said or self.parts.replies.text(incoming, "mode_off")
        if model:
            said += self.parts.replies.text(incoming, "mode_model", model=model)
        if account.prompt:
            said += self.parts.replies.text(incoming, "mode_prompt_cleared")
        await self.parts.replies.send(incoming, said)

    def _modes(self, incoming: Incoming, current: Mode | None) -> str:
        language = self.parts.replies.language(incoming)
        return "\n".join(
            self.parts.replies.text(
                incoming,
                "mode_line_current" if mode is current else "mode_line",
                mode=mode.name,
                about=mode.described(language),
            )
            for mode in self.modes.modes
        )

    async def image(self, incoming: Incoming, account: Account, argument: str) -> None:
        await self.painter.draw(incoming, account, argument)

    async def voice(self, incoming: Incoming, account: Account, argument: str) -> None:
        if self.narrator is None:
            await self.parts.replies.say(incoming, "speech_unavailable")
            return
        await self.narrator.switch(incoming, account, argument)

    # -- the admin's ---------------------------------------------------------------------------

    async def topup(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/topup <user id> <tokens>``: add to a balance, or take away with a negative number."""
        words = argument.split()
        amount = _amount(words[1]) if len(words) == 2 else None
        if amount is None:
            await self.parts.replies.say(incoming, "topup_usage")
            return
        changed = await self.parts.accounts.change(words[0], budget.topped_up(amount))
        if changed is None:
            await self.parts.replies.say(incoming, "unknown_user", user=words[0])
            return
        done = self.parts.replies.text(
            incoming, "topup_done", who=_who(changed), balance=changed.balance
        )
        if incoming.private or not self.parts.notices.reach_admin:
            await self.parts.replies.send(incoming, done)
            return
        # A balance is its owner's and the admin's business, not the group's: it goes where
        # the messenger reaches the admin (their private chat), as /stats totals do.
        self.parts.notices.post_text(done)
        await self.parts.replies.say(incoming, "topup_done_private")

    async def ban(self, incoming: Incoming, account: Account, argument: str) -> None:
        await self._ban(incoming, argument, banned=True)

    async def unban(self, incoming: Incoming, account: Account, argument: str) -> None:
        await self._ban(incoming, argument, banned=False)

    async def _ban(self, incoming: Incoming, argument: str, *, banned: bool) -> None:
        words = argument.split()
        if len(words) != 1 or words[0] == self.parts.config.admin_id:
            await self.parts.replies.say(incoming, "ban_usage")
            return
        changed = await self.parts.accounts.change(
            words[0], lambda a: attrs.evolve(a, banned=banned)
        )
        if changed is None:
            await self.parts.replies.say(incoming, "unknown_user", user=words[0])
            return
        await self.parts.replies.say(
            incoming, "ban_done" if banned else "unban_done", who=_who(changed)
        )

    async def allow(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/allow <id|@name>``; alone in a group: everyone in that group."""
        words = argument.split()
        if not words and not incoming.private:
            await self.gate.allow(incoming.chat_id, chat=True)
            await self._access_said(incoming, "allow_chat_done")
        elif len(words) == 1:
            await self.gate.allow(words[0])
            await self._access_said(incoming, "allow_done", entry=access_key(words[0]))
        else:
            await self.parts.replies.say(incoming, "allow_usage")

    async def disallow(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/disallow <id|@name>``; alone in a group: that group."""
        words = argument.split()
        if not words and not incoming.private:
            words = [incoming.chat_id]
        if len(words) != 1:
            await self.parts.replies.say(incoming, "allow_usage")
            return
        entry = access_key(words[0])
        before = await self.gate.current()
        if entry not in before.users | before.chats:
            await self._access_said(incoming, "disallow_missing", entry=entry)
            return
        await self.gate.disallow(entry)
        await self._access_said(incoming, "disallow_done", entry=entry)

    async def _access_said(self, incoming: Incoming, key: str, **values: object) -> None:
        message = self.parts.replies.text(incoming, key, **values)
        if not self.gate.restricted:
            message += self.parts.replies.text(incoming, "access_open")
        await self.parts.replies.send(incoming, message)

    async def users(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/users [page]``: who, balance and last request, a page at a time; the list goes to
        the admin's private chat, never to a group."""
        page = int(argument) if argument.isascii() and argument.isdigit() else 1
        page = max(page, 1)
        message = await self._users_page(incoming, page)
        if incoming.private:
            await self.parts.replies.send(incoming, message)
        else:
            # Through the operator: a private chat's id is the messenger's business (the same
            # as the user's id on some, not on others), and the operator knows where the admin
            # is reached.
            self.parts.notices.post_text(message)
            await self.parts.replies.say(incoming, "users_private")

    async def _users_page(self, incoming: Incoming, page: int) -> str:
        accounts = self.parts.accounts
        offset = (page - 1) * USERS_PER_PAGE
        found = await accounts.page(offset, USERS_PER_PAGE + 1)
        if not found:
            return self.parts.replies.text(incoming, "users_none", page=page)
        never = self.parts.replies.text(incoming, "never")
        lines = [
            self.parts.replies.text(
                incoming,
                "users_line",
                who=_who(each),
                balance=each.balance,
                last=each.last_request.strftime("%Y-%m-%d %H:%M") if each.last_request else never,
            )
            for each in found[:USERS_PER_PAGE]
        ]
        message = self.parts.replies.text(
            incoming,
            "users_page",
            first=offset + 1,
            last=offset + len(lines),
            count=await accounts.count(),
            lines="\n".join(lines),
        )
        if len(found) > USERS_PER_PAGE:
            message += self.parts.replies.text(incoming, "users_next", page=page + 1)
        if page == 1 and self.gate.restricted:
            access = await self.gate.current()
            entries = ", ".join(sorted(access.users | access.chats)) or "-"
            message += "\n\n" + self.parts.replies.text(incoming, "users_access", entries=entries)
        return message

    async def allowance(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/allowance <id|@name> <tokens|default>``: a person's own allowance (0: none)."""
        words = argument.split()
        tokens: int | None = None
        if len(words) == 2 and words[1].lower() != "default":
            tokens = _amount(words[1]) if words[1] != "0" else 0
            if tokens is None or tokens < 0:
                await self.parts.replies.say(incoming, "allowance_usage")
                return
        elif len(words) != 2:
            await self.parts.replies.say(incoming, "allowance_usage")
            return
        found = await self._find(words[0])
        changed = None
        if found is not None:
            changed = await self.parts.accounts.change(
                found.user_id, lambda a: attrs.evolve(a, allowance=tokens)
            )
        if changed is None:
            await self.parts.replies.say(incoming, "unknown_user", user=words[0])
            return
        refill = self.allowances.next(changed)
        if refill is None:
            await self.parts.replies.say(incoming, "allowance_none", who=_who(changed))
            return
        period = self.parts.replies.text(incoming, f"period_{self.allowances.period.value}")
        await self.parts.replies.say(
            incoming, "allowance_done", who=_who(changed), tokens=refill.tokens, period=period
        )

    async def _find(self, word: str) -> Account | None:
        """The account of an id or an @username (compared without case)."""
        found = await self.parts.accounts.get(word)
        if found is not None or not word.startswith("@"):
            return found
        wanted = access_key(word)
        offset = 0
        while batch := await self.parts.accounts.page(offset, 500):
            for each in batch:
                if each.username and access_key("@" + each.username) == wanted:
                    return each
            offset += len(batch)
        return None

    async def stop(self, incoming: Incoming, account: Account, argument: str) -> None:
        await self.parts.replies.say(incoming, "stopping")
        self.request_stop()


def _amount(word: str) -> int | None:
    """A whole number of tokens, signed, non-zero, within ``MAX_TOPUP``; None otherwise."""
    digits = word.removeprefix("-").removeprefix("+")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 13:
        return None
    amount = int(word)
    return amount if amount != 0 and abs(amount) <= MAX_TOPUP else None


def _who(account: Account) -> str:
    return who(Sender(account.user_id, account.name, account.username))
