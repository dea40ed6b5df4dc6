"""Spoken answers (/voice on|off) on in-memory parts that really work: the voice note follows
the text, is charged per character read aloud (held first, given back on failure, refunded when
undelivered), and is refused plainly where it cannot be made or sent."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from core import errors
from core.speaking import cut, speakable
from core.values import Picture, Role, VoiceNote
from tests.fakes import (
    FailingDisk,
    RecordingSink,
    RecordingStream,
    ScriptedModel,
    ScriptedSpeaker,
)
from tests.unit.conftest import ADMIN, ALICE, BOB, Harness, make_harness

ANSWER = "Hello, world"  # what ScriptedModel says: 12 characters, 15 tokens
PRICE = 2.0  # tokens per character read aloud


@attrs.define
class Voiced:
    bot: Harness
    speaker: ScriptedSpeaker


def voiced(speaker: ScriptedSpeaker | None = None, **config: object) -> Voiced:
    speaker = speaker or ScriptedSpeaker()
    settings: dict[str, object] = {"speech_tokens_per_char": PRICE, **config}
    return Voiced(make_harness(None, {"speaker": speaker}, **settings), speaker)


@pytest.fixture
def v() -> Voiced:
    return voiced()


async def test_voice_on_sends_the_answer_as_a_voice_note_after_the_text(v: Voiced) -> None:
    bot = v.bot
    await bot.say("/voice on")
    assert bot.last().startswith("From now on I also send my answers as voice notes")
    assert (await bot.account(ALICE.id)).voice is True
    before = await bot.balance(ALICE.id)
    await bot.say("hi")
    text, voice = bot.sink.sent[-2:]
    assert text.text.startswith(ANSWER)
    assert text.voice is None
    assert voice.voice is not None
    assert voice.reply_to == text.message_ids[-1]  # after the text, answering it
    assert v.speaker.spoken == [(ANSWER, "en")]
    # Every charge shown is the charge saved: the answer's footer and the voice note's caption.
    assert voice.text == "🔊 Tokens used: 24"  # 12 characters at 2 tokens
    assert await bot.balance(ALICE.id) == before - 15 - 24
    assert await bot.accounts.held(ALICE.id) == 0
    assert (await bot.totals()).tokens == 15 + 24


async def test_voice_off_and_the_default_send_text_only(v: Voiced) -> None:
    bot = v.bot
    await bot.say("hi")
    assert bot.sink.voices() == []
    await bot.say("/voice on")
    await bot.say("/voice off")
    assert bot.last() == "Voice notes are off: I answer in text only."
    await bot.say("hi")
    assert bot.sink.voices() == []
    assert v.speaker.spoken == []


async def test_voice_alone_says_the_setting_and_the_price(v: Voiced) -> None:
    await v.bot.say("/voice")
    assert "text only" in v.bot.last()
    assert "2 tokens per character" in v.bot.last()
    await v.bot.say("/voice maybe")
    assert v.bot.last() == "Use /voice on or /voice off."


async def test_a_failed_speech_gives_the_hold_back_and_says_so(v: Voiced) -> None:
    bot = v.bot
    await bot.say("/voice on")
    v.speaker.fail_with = [errors.ModelUnavailable("speech server down")]
    before = await bot.balance(ALICE.id)
    await bot.say("hi")
    assert bot.sink.voices() == []
    assert bot.last().startswith("The answer could not be read aloud.")
    assert "Nothing was charged" in bot.last()
    assert bot.sink.sent[-2].text.startswith(ANSWER)  # the text answer stands, charged
    assert await bot.balance(ALICE.id) == before - 15
    assert await bot.accounts.held(ALICE.id) == 0
    assert (await bot.totals()).tokens == 15


async def test_a_rejected_key_tells_the_admin_of_the_speech_settings(v: Voiced) -> None:
    bot = v.bot
    await bot.say("/voice on")
    v.speaker.fail_with = [errors.AuthFailed("bad key")]
    await bot.say("hi")
    await bot.service.drain()
    assert "speech service rejected" in bot.last()
    assert any("TTS_API_KEY" in notice for notice in bot.operator.notices)


async def test_speech_the_balance_cannot_pay_is_refused_and_nothing_held() -> None:
    v = voiced(speech_tokens_per_char=10.0)
    bot = v.bot
    await bot.say("/voice on")
    await bot.accounts.change(ALICE.id, lambda a: attrs.evolve(a, balance=100))
    await bot.say("hi")  # the answer costs 15, leaving 85: reading it costs 120
    assert bot.last().startswith("The answer was not read aloud: that costs 120 tokens")
    assert "85 available" in bot.last()
    assert v.speaker.spoken == []
    assert await bot.balance(ALICE.id) == 85
    assert await bot.accounts.held(ALICE.id) == 0


async def test_a_voice_note_that_cannot_be_delivered_is_refunded(v: Voiced) -> None:
    bot = v.bot
    await bot.say("/voice on")
    before = await bot.balance(ALICE.id)
    bot.sink.voice_fails = errors.DeliveryFailed("the upload failed")
    await bot.say("hi")
    assert bot.sink.voices() == []
    assert await bot.balance(ALICE.id) == before - 15
    assert (await bot.totals()).tokens == 15


@attrs.define
class DiskFillsWhileSpeaking(ScriptedSpeaker):
    """The disk fills up while the answer is read aloud: its charge cannot be saved."""

    disk: FailingDisk | None = None

    async def speak(self, text: str, *, language: str) -> VoiceNote:
        assert self.disk is not None
        self.disk.broken = True
        return await super().speak(text, language=language)


async def test_a_speech_whose_charge_cannot_be_saved_is_sent_marked_unpaid() -> None:
    speaker = DiskFillsWhileSpeaking()
    bot = voiced(speaker).bot
    await bot.say("/voice on")
    speaker.disk = FailingDisk(bot.accounts, broken=False)
    bot.use_accounts(speaker.disk)
    before = await bot.balance(ALICE.id)
    await bot.say("hi")
    voice = bot.sink.voices()
    assert len(voice) == 1
    assert "Not charged" in voice[0].text
    assert await bot.balance(ALICE.id) == before - 15
    assert await bot.accounts.held(ALICE.id) == 0


async def test_a_long_answer_is_read_up_to_the_cap_and_says_so() -> None:
    v = voiced(max_speech_chars=40)
    model = v.bot.model
    model.pieces = ("First sentence is here. ", "Second one is longer than the rest of it.")
    await v.bot.say("/voice on")
    await v.bot.say("hi")
    spoken = v.speaker.spoken[-1][0]
    assert spoken == "First sentence is here."
    caption = v.bot.sink.voices()[-1].text
    assert caption == (
        "🔊 Tokens used: 46\n(Read aloud up to the limit: the first 23 of 65 characters.)"
    )


async def test_the_person_language_goes_to_the_speaker(v: Voiced) -> None:
    await v.bot.say("/voice on", sender=BOB)
    await v.bot.say("привет", sender=BOB)
    assert v.speaker.spoken == [(ANSWER, "ru")]
    assert v.bot.sink.voices()[-1].text == "🔊 Израсходовано токенов: 24"


async def test_the_admin_gets_voice_notes_without_paying(v: Voiced) -> None:
    admin = attrs.evolve(ALICE, id=ADMIN)
    await v.bot.say("/voice on", sender=admin)
    before = await v.bot.balance(ADMIN)
    await v.bot.say("hi", sender=admin)
    assert len(v.bot.sink.voices()) == 1
    assert await v.bot.balance(ADMIN) == before


async def test_a_reply_to_the_voice_note_continues_the_conversation(v: Voiced) -> None:
    bot = v.bot
    await bot.say("/voice on")
    await bot.say("hi")
    voice = bot.sink.voices()[-1]
    await bot.say("and then?", reply_to=voice.message_ids[0])
    turns = [(t.role, t.text) for t in bot.model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "hi"),
        (Role.ASSISTANT, ANSWER),
        (Role.USER, "and then?"),
    ]


async def test_a_stopped_answer_is_not_read_aloud(v: Voiced) -> None:
    from tests.fakes import StoppingSink

    bot = v.bot
    await bot.say("/voice on")
    bot.use_sink(StoppingSink(bot.sink))
    await bot.say("hi")
    assert v.speaker.spoken == []


async def test_without_a_speaker_voice_on_is_refused_plainly() -> None:
    bot = make_harness()
    await bot.say("/voice on")
    assert bot.last() == "This bot cannot send answers as voice notes here."
    assert (await bot.account(ALICE.id)).voice is False
    await bot.say("/voice")
    assert bot.last() == "This bot cannot send answers as voice notes here."
    await bot.say("/voice off")  # always allowed: nothing to refuse
    assert bot.last() == "Voice notes are off: I answer in text only."


@attrs.define
class TextOnly:
    """A messenger without voice notes (no ``send_voice``), as Matrix is today."""

    inner: RecordingSink = attrs.field(factory=RecordingSink)

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        return await self.inner.send(chat_id, text, reply_to)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        return await self.inner.send_picture(chat_id, picture, caption, reply_to)

    def stream(self, chat_id: str, reply_to: str | None) -> RecordingStream:
        return self.inner.stream(chat_id, reply_to)

    async def typing(self, chat_id: str) -> None:
        return None


async def test_a_messenger_without_voice_notes_refuses_voice_on_plainly() -> None:
    from adapters.clock import FakeClock
    from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
    from core.config import BotConfig
    from core.tokens import CharTokenCounter
    from entrypoints.bootstrap import assemble
    from tests.unit.conftest import Harness as _Harness

    sink = TextOnly()
    accounts, threads = MemoryAccountStore(), MemoryThreadStore()
    built = assemble(
        BotConfig(admin_id=ADMIN),
        sink=sink,
        accounts=accounts,
        threads=threads,
        model=ScriptedModel(),
        counter=CharTokenCounter(),
        clock=FakeClock(),
        speaker=ScriptedSpeaker(),
    )
    bot = _Harness(built.service, ScriptedModel(), accounts, threads, sink.inner, None)  # type: ignore[arg-type]
    await bot.say("/voice on")
    assert bot.last() == "This bot cannot send answers as voice notes here."


def test_markdown_is_read_as_words() -> None:
    markdown = (
        "# Title\n\nSome **bold** and `code`, a [link](https://example.com).\n"
        "```python\nprint(1)\n```\n> quoted\n- item"
    )
    assert speakable(markdown) == ("Title\n\nSome bold and code, a link.\nprint(1)\nquoted\nitem")


def test_a_cut_ends_at_a_sentence_or_a_word() -> None:
    assert cut("short", 10) == "short"
    assert cut("One two three. Four five six", 20) == "One two three."
    assert cut("abcdefghij klmnopqrstuvwxyz", 20) == "abcdefghij"
    assert cut("a" * 30, 20) == "a" * 20
