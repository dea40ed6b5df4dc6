"""The console as a messenger: lines of text in, the bot's messages printed out.

Every message, typed or sent by the bot, gets an id and is printed with it, so a later line can
reply to it. The syntax of a line:

    text                 a message in the current chat, replying to nothing
    >N text              a message replying to message N (the number shown in [N])
    & ...                send without waiting for the answer (to try concurrent requests)
    :user ID [NAME]      speak as another user (a new id is a new user; without NAME, the
                         name given before, if any)
    :admin               speak as the admin
    :group [ID]          speak in a group chat (default -100): the bot answers a mention of
                         @BOT, its /command, or a reply to one of its messages, as on Telegram
    :private             speak in your private chat with the bot
    :lang CODE           the language your messenger reports (en, ru, ...), for this user
                         and for the users you speak as next who have none yet
    :photo FILE [TEXT]   send a picture (PNG, JPEG, WebP, GIF), TEXT its caption
    :voice FILE [TEXT]   send a voice message: a recording (.ogg/.opus like Telegram's, .mp3...)
    :file FILE [TEXT]    send a file: text files and PDFs are read; pictures and recordings go
                         as :photo and :voice send them. FILE in "quotes" if it has spaces;
                         >ID and & may come first. The bot's pictures and voice notes
                         (/voice on) are saved as files and their paths printed.
    :wait                wait for every answer still coming
    :help                this text
    :quit                leave (end of input does the same)
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import attrs

from adapters.media.headers import describe_size, picture_size
from adapters.messengers.addressing import BotAddress, leading_command, without
from adapters.messengers.console.files import (
    NotSent,
    attachment_for,
    describe,
    read_limited,
    save_picture,
    save_voice,
)
from adapters.messengers.console.numbers import MessageNumbers
from adapters.messengers.console.numbers import numbering as numbering  # where it used to be
from core.errors import DeliveryFailed
from core.values import Attachment, Incoming, Offer, Picture, Sender, VoiceNote

HELP = __doc__.split("\n\n", 2)[2].rstrip() if __doc__ else ""
DEFAULT_GROUP = "-100"


@attrs.frozen
class Send:
    """A message to hand to the bot; ``wait`` says whether to wait for its answer."""

    incoming: Incoming
    wait: bool
    addressed: bool = True  # False: a group message the bot ignores, only echoed


@attrs.frozen
class Note:
    """Something the console itself answers (help, who is speaking, a syntax error)."""

    text: str


@attrs.frozen
class Wait:
    pass


@attrs.frozen
class Quit:
    pass


Action = Send | Note | Wait | Quit

_REPLY = re.compile(r"^>\s*(\d+)\s+(.*)$", re.DOTALL)
_MEDIA = re.compile(r"^:(voice|photo|file)(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)
_FILE_AND_CAPTION = re.compile(r'^(?:"([^"]+)"|\'([^\']+)\'|(\S+))\s*(.*)$', re.DOTALL)


@attrs.define
class ConsoleSession:
    """Who is speaking where, and what each typed line means."""

    admin_id: str
    bot_username: str
    ids: MessageNumbers
    bot_messages: set[str] = attrs.field(factory=set)  # ids of what the bot sent
    commands: frozenset[str] | None = None  # the bot's commands; None: take any as the bot's
    user: Sender = attrs.field(factory=lambda: Sender("100", "You"))
    chat_id: str | None = None  # None: the private chat of the current user
    # What was said of each user this session, so that speaking as them again keeps it.
    _names: dict[str, str] = attrs.field(factory=dict, init=False)
    _languages: dict[str, str] = attrs.field(factory=dict, init=False)
    _language: str | None = attrs.field(default=None, init=False)  # the last :lang

    def __attrs_post_init__(self) -> None:
        self._names[self.admin_id] = "Admin"
        if self.user.name:
            self._names[self.user.id] = self.user.name

    @property
    def address(self) -> BotAddress:
        return BotAddress(self.bot_username, self.commands)

    def current_chat(self) -> str:
        return self.user.id if self.chat_id is None else self.chat_id

    def describe(self) -> str:
        place = "your private chat" if self.chat_id is None else f"group {self.chat_id}"
        return f"Speaking as {_name(self.user)} ({self.user.id}) in {place}."

    def parse(self, line: str) -> Action | None:
        """The action of one input line; None for a blank line."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        wait, text = True, line
        if text.startswith("&"):
            wait, text = False, text[1:].lstrip()
        reply_to = None
        match = _REPLY.match(text)
        if match:
            reply_to, text = self.ids.message_id(match.group(1)), match.group(2)
        media = _MEDIA.match(text.strip())
        if media:
            return self._send_file(media.group(1).lower(), media.group(2) or "", reply_to, wait)
        if line.startswith(":"):
            return self._console_command(line[1:].split())
        return self._send(text, reply_to, wait)

    def _send_file(self, command: str, rest: str, reply_to: str | None, wait: bool) -> Action:
        """``:voice``, ``:photo`` or ``:file``: the file as an attachment, the rest of the line
        as its caption; a Note, and nothing sent, when the file cannot be."""
        match = _FILE_AND_CAPTION.match(rest.strip())
        if match is None:
            return Note(f"Usage: :{command} FILE [TEXT]. Type :help.")
        name = match.group(1) or match.group(2) or match.group(3)
        try:
            attachment = attachment_for(Path(name), command)
        except NotSent as exc:
            return Note(str(exc))
        send = self._send(match.group(4).strip(), reply_to, wait)
        return attrs.evolve(send, incoming=attrs.evolve(send.incoming, attachments=(attachment,)))

    def _send(self, text: str, reply_to: str | None, wait: bool) -> Send:
        """A message, meant for the bot or not by the rules Telegram's adapter follows too:
        in a group, the bot's command, a mention of it (taken out of the text) or a reply to
        one of its messages."""
        private = self.chat_id is None
        cuts = self.address.mentions(text)
        command = leading_command(text)
        ours = False
        if command is not None:
            ours = self.address.takes(command.name, command.target, private=private)
            cuts.append((command.at, command.end))
        foreign = command is not None and not ours
        addressed = not foreign and (private or ours or bool(cuts) or reply_to in self.bot_messages)
        incoming = Incoming(
            chat_id=self.current_chat(),
            message_id=self.ids.new(),
            sender=self.user,
            text=without(text, cuts) if addressed else text,
            reply_to=reply_to,
            private=private,
        )
        return Send(incoming, wait, addressed)

    def _console_command(self, words: list[str]) -> Action:
        name, args = (words[0].lower(), words[1:]) if words else ("", [])
        if name == "user" and args and not args[0].startswith("-"):
            user_id = args[0]
            if args[1:]:
                self._names[user_id] = " ".join(args[1:])
            self._speak_as(user_id)
            return Note(self.describe())
        if name == "admin":
            self._speak_as(self.admin_id)
            return Note(self.describe())
        if name == "group":
            # Groups are told from people by a leading "-" (only in the console's own labels).
            self.chat_id = "-" + args[0].lstrip("-") if args else DEFAULT_GROUP
            return Note(self.describe())
        if name == "private":
            self.chat_id = None
            return Note(self.describe())
        if name == "lang" and len(args) == 1:
            self._languages[self.user.id] = self._language = args[0]
            self.user = attrs.evolve(self.user, language=args[0])
            return Note(f"{_name(self.user)} now reports language {args[0]}.")
        if name == "wait":
            return Wait()
        if name in {"quit", "exit"}:
            return Quit()
        if name == "help":
            return Note(HELP)
        return Note(f"Unknown console command :{' '.join(words)}. Type :help.")

    def _speak_as(self, user_id: str) -> None:
        """Speak as ``user_id``, with the name and language given for them before: a user
        named once keeps the name, so the account is never shown under another."""
        if self.user.language is not None:
            self._languages.setdefault(self.user.id, self.user.language)
        language = self._languages.get(user_id, self._language)
        self.user = Sender(user_id, self._names.get(user_id), None, language)


def _name(sender: Sender) -> str:
    return sender.name or f"user {sender.id}"


# What a terminal would obey rather than show (escape sequences, a carriage return that
# overwrites the line, bidirectional overrides that reorder it): shown escaped instead.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` as the terminal should print it: control characters escaped (``\\x1b``),
    lines and tabs kept."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@attrs.define
class ConsoleSink:
    """Prints the bot's messages (implements ``core.ports.ReplySink``), and fetches the files
    people send (``core.ports.MediaSource``).

    One answer at a time streams live, word by word. Everything else printed meanwhile (other
    answers, notices, the echo of typed lines) waits until that answer's line is finished, so
    nothing lands in the middle of it.
    """

    out: TextIO
    ids: MessageNumbers
    sent: set[str] = attrs.field(factory=set)  # ids of every message the bot sent
    # Where the bot's pictures are written; None: a temporary directory made when needed.
    pictures: Path | None = None
    voices: Path | None = None  # where its voice notes are written; None: likewise
    _live: _ConsoleStream | None = None
    _held: list[str] = attrs.field(factory=list)

    def write(self, text: str) -> None:
        """Print whole lines now, or once the answer streaming live has finished."""
        if self._live is not None:
            self._held.append(text)
            return
        self._print(text)

    def _print(self, text: str) -> None:
        self.out.write(visible(text))
        self.out.flush()

    @property
    def free(self) -> bool:
        """Whether no answer is printing live now."""
        return self._live is None

    def go_live(self, stream: _ConsoleStream, start: str) -> None:
        """Let ``stream`` print as it grows, starting with ``start``."""
        self._live = stream
        self._print(start)

    def print_live(self, stream: _ConsoleStream, text: str) -> None:
        if self._live is stream:
            self._print(text)

    def end_live(self, stream: _ConsoleStream, rest: str) -> None:
        """End ``stream``'s line with ``rest``, then print what waited for it."""
        if self._live is not stream:
            return
        self._live = None
        self._print(rest + "".join(self._held))
        self._held.clear()

    def is_live(self, stream: _ConsoleStream) -> bool:
        return self._live is stream

    def abandon(self, chat_id: str, reply_to: str | None) -> None:
        """A message to ``chat_id`` answered with ``reply_to`` is handled: if its answer is
        still printing live, it never will be finished, and would hold every later line
        forever (a failure that escaped before the answer's end once silenced the console
        that way). Its line is ended here, and what waited for it printed."""
        live = self._live
        if live is not None and live.chat_id == chat_id and live.reply_to == reply_to:
            self.end_live(live, " [unfinished]\n")

    def echo(self, incoming: Incoming) -> None:
        where = "" if incoming.private else f" in group {incoming.chat_id}"
        reply = "" if incoming.reply_to is None else f" ↪ {self.ids.shown(incoming.reply_to)}"
        name = incoming.sender.name or f"user {incoming.sender.id}"
        text = " ".join([*(describe(a) for a in incoming.attachments), incoming.text]).strip()
        number = self.ids.shown(incoming.message_id)
        self.write(f"[{number}] {name} ({incoming.sender.id}){where}{reply}: {text}\n")

    def new_id(self) -> str:
        message_id = self.ids.new()
        self.sent.add(message_id)
        return message_id

    def heading(self, message_id: str, chat_id: str, reply_to: str | None) -> str:
        """How a message of the bot starts: "[5] bot → user 100 ↪ 4: "."""
        where = f"group {chat_id}" if chat_id.startswith("-") else f"user {chat_id}"
        reply = "" if reply_to is None else f" ↪ {self.ids.shown(reply_to)}"
        return f"[{self.ids.shown(message_id)}] bot → {where}{reply}: "

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        message_id = self.new_id()
        self.write(f"{self.heading(message_id, chat_id, reply_to)}{text}\n")
        return (message_id,)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        """Write the picture to a file and print its path with the caption."""
        if self.pictures is None:
            self.pictures = Path(tempfile.mkdtemp(prefix="gptbot-pictures-"))
        message_id = self.new_id()
        try:
            path = await asyncio.to_thread(save_picture, self.pictures, message_id, picture)
        except OSError as exc:
            self.sent.discard(message_id)
            raise DeliveryFailed(f"cannot save the picture in {self.pictures}: {exc}") from exc
        size = picture_size(picture.data)
        facts = [picture.mime, *([f"{size[0]}×{size[1]}"] if size else [])]
        facts.append(describe_size(len(picture.data)))
        line = f"[picture {path}, {', '.join(facts)}] {caption}".rstrip()
        self.write(f"{self.heading(message_id, chat_id, reply_to)}{line}\n")
        return (message_id,)

    async def send_voice(
        self, chat_id: str, voice: VoiceNote, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        """Write the voice note to an .ogg file and print its path with the caption
        (implements ``core.ports.VoiceNoteSink``)."""
        if self.voices is None:
            self.voices = Path(tempfile.mkdtemp(prefix="gptbot-voices-"))
        message_id = self.new_id()
        try:
            path = await asyncio.to_thread(save_voice, self.voices, message_id, voice)
        except OSError as exc:
            self.sent.discard(message_id)
            raise DeliveryFailed(f"cannot save the voice note in {self.voices}: {exc}") from exc
        facts = f"audio/ogg, {voice.seconds:.1f} s, {describe_size(len(voice.data))}"
        line = f"[voice {path}, {facts}] {caption}".rstrip()
        self.write(f"{self.heading(message_id, chat_id, reply_to)}{line}\n")
        return (message_id,)

    async def fetch(self, chat_id: str, attachment: Attachment, limit: int) -> bytes:
        """The file behind an attachment (implements ``core.ports.MediaSource``)."""
        return await asyncio.to_thread(read_limited, attachment, limit)

    def stream(self, chat_id: str, reply_to: str | None) -> _ConsoleStream:
        return _ConsoleStream(self, chat_id, reply_to)

    async def typing(self, chat_id: str) -> None:
        return None


@attrs.define
class _ConsoleStream:
    sink: ConsoleSink
    chat_id: str
    reply_to: str | None
    _shown: str = ""
    _message_id: str | None = None

    @property
    def shown(self) -> bool:
        return bool(self._shown)

    async def update(self, text: str) -> None:
        sink = self.sink
        if self._message_id is None:
            if not sink.free:
                return  # another answer is printing; this one shows when finished
            self._message_id = sink.new_id()
            sink.go_live(self, sink.heading(self._message_id, self.chat_id, self.reply_to))
        if sink.is_live(self) and text.startswith(self._shown):
            sink.print_live(self, text[len(self._shown) :])
            self._shown = text

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        sink = self.sink
        if offer is not None:  # typed here: the command alone answers the last message again
            text += f"\n[{offer.label}: {offer.command.split()[0]}]"
        if sink.is_live(self):
            assert self._message_id is not None
            if text.startswith(self._shown):
                sink.end_live(self, text[len(self._shown) :] + "\n")
            else:  # the streamed text was replaced, e.g. by an error message
                number = sink.ids.shown(self._message_id)
                sink.end_live(self, f"\n[{number}] (edited): {text}\n")
            return (self._message_id,)
        if self._message_id is None:
            self._message_id = sink.new_id()
        sink.write(f"{sink.heading(self._message_id, self.chat_id, self.reply_to)}{text}\n")
        return (self._message_id,)


@attrs.frozen
class ConsoleOperator:
    """The admin's notices, printed as messages to the admin's private chat."""

    sink: ConsoleSink
    admin_id: str

    async def notify(self, text: str) -> None:
        await self.sink.send(self.admin_id, text)
