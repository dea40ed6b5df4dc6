"""Voice, pictures, files, /image and /model on in-memory parts that really work."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from core import errors
from core.models import ModelOption
from core.values import Account, Attachment, Incoming, MediaKind, Role, Sender
from tests.fakes import (
    FailingDisk,
    GoneChat,
    KnownMedia,
    MemoryMedia,
    PNG_1x1,
    ScriptedImageMaker,
    ScriptedModel,
    ScriptedTranscriber,
    Utf8Documents,
)
from tests.unit.conftest import ALICE, Harness, make_harness

PLAIN = ModelOption("plain", price=1.0)
EYES = ModelOption("eyes", price=2.0, vision=True, description="the sharp one")
FREE = ModelOption("free", price=0.0)


@attrs.define
class MediaBot(Harness):
    media: MemoryMedia = attrs.field(factory=MemoryMedia)
    transcriber: ScriptedTranscriber = attrs.field(factory=ScriptedTranscriber)
    maker: ScriptedImageMaker = attrs.field(factory=ScriptedImageMaker)
    models: dict[str, ScriptedModel] = attrs.field(factory=dict)

    async def send(
        self,
        *attachments: Attachment,
        text: str = "",
        sender: Sender = ALICE,
        reply_to: str | None = None,
    ) -> Incoming:
        incoming = attrs.evolve(
            self.message(text, sender, reply_to=reply_to), attachments=attachments
        )
        await self.service.handle(incoming)
        return incoming

    def voice(self, ref: str, data: bytes, duration: float | None = 4.0) -> Attachment:
        self.media.files[ref] = data
        return Attachment(
            MediaKind.VOICE, ref, "audio/ogg", "voice.ogg", len(data), duration=duration
        )

    def picture(self, ref: str, data: bytes = PNG_1x1) -> Attachment:
        self.media.files[ref] = data
        return Attachment(MediaKind.IMAGE, ref, "image/png", None, len(data), None, 1, 1)

    def document(self, ref: str, data: bytes, name: str = "notes.txt") -> Attachment:
        self.media.files[ref] = data
        return Attachment(MediaKind.DOCUMENT, ref, "text/plain", name, len(data))

    async def held(self, user_id: str) -> int:
        return await self.accounts.held(user_id)


def media_bot(*options: ModelOption, probe: KnownMedia | None = None, **config: object) -> MediaBot:
    options = options or (PLAIN, EYES)
    models = {o.name: ScriptedModel() for o in options}
    media, transcriber, maker = MemoryMedia(), ScriptedTranscriber(), ScriptedImageMaker()
    parts = {
        "models": models,
        "media": media,
        "transcriber": transcriber,
        "image_maker": maker,
        "documents": Utf8Documents(),
        "probe": probe,
    }
    settings: dict[str, object] = {
        "models": options,
        "transcription_tokens_per_second": 10.0,
        "image_price": 1_000,
        **config,
    }
    bot = make_harness(None, parts, **settings)
    return MediaBot(
        bot.service,
        bot.model,
        bot.accounts,
        bot.threads,
        bot.sink,
        bot.operator,
        bot.next_id,
        media,
        transcriber,
        maker,
        models,
    )


@pytest.fixture
def bot() -> MediaBot:
    return media_bot()


# -- voice ---------------------------------------------------------------------------------------


async def test_a_voice_message_is_transcribed_quoted_charged_and_answered(bot: MediaBot) -> None:
    voice = bot.voice("v1", b"OggS fake opus", duration=4.2)
    await bot.send(voice)
    assert bot.transcriber.heard == [(b"OggS fake opus", "voice.ogg", "en")]
    quote, answer = bot.sink.sent[-2:]
    assert quote.text == "🎤 “what is the capital of France”\n(4.2 s, 42 tokens)"  # not "5 s"
    request = bot.model.requests[-1]
    assert request.turns[-1].text == "what is the capital of France"
    # 4.2 s at 10 tokens a second, then the answer's 15 tokens
    assert await bot.balance(ALICE.id) == 30_000 - 42 - 15
    assert answer.text.endswith("Tokens used: 15")
    assert await bot.held(ALICE.id) == 0


async def test_a_reply_to_the_answer_of_a_voice_message_has_the_transcript(bot: MediaBot) -> None:
    await bot.send(bot.voice("v1", b"audio"), text="please answer briefly")
    answer = bot.sink.sent[-1].message_ids[0]
    await bot.say("and Germany?", reply_to=answer)
    turns = [(t.role, t.text) for t in bot.model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "please answer briefly\n\nwhat is the capital of France"),
        (Role.ASSISTANT, "Hello, world"),
        (Role.USER, "and Germany?"),
    ]


async def test_a_reply_to_the_quoted_transcript_continues_its_conversation(bot: MediaBot) -> None:
    await bot.send(bot.voice("v1", b"audio"))
    quote = bot.sink.sent[-2].message_ids[0]
    await bot.say("more", reply_to=quote)
    texts = [t.text for t in bot.model.requests[-1].turns[1:]]
    assert texts == ["what is the capital of France", "more"]


async def test_a_recording_too_long_is_refused_before_anything_is_fetched(bot: MediaBot) -> None:
    await bot.send(bot.voice("v1", b"audio", duration=601))
    assert "601 seconds long; the limit is 600" in bot.last()
    assert bot.media.fetched == []
    assert bot.model.requests == []
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_recording_the_balance_cannot_pay_is_refused(bot: MediaBot) -> None:
    await _set(bot, balance=30)
    await bot.send(bot.voice("v1", b"audio", duration=4))
    assert "costs about 40 and you have 30 available" in bot.last()
    # Fetched to be measured before the hold, never transcribed.
    assert bot.transcriber.heard == []
    assert await bot.balance(ALICE.id) == 30


@pytest.mark.parametrize(
    "failure", [errors.ModelUnavailable("500"), errors.RateLimited("429"), errors.AuthFailed("x")]
)
async def test_a_failed_transcription_costs_nothing(
    bot: MediaBot, failure: errors.ModelError
) -> None:
    bot.transcriber.fail_with = [failure]
    await bot.send(bot.voice("v1", b"audio"))
    assert bot.last().startswith("Your recording could not be transcribed.")
    assert "Nothing was charged" in bot.last()
    assert bot.model.requests == []
    assert await bot.balance(ALICE.id) == 30_000
    assert await bot.held(ALICE.id) == 0
    assert (await bot.totals()).requests == 0


async def test_silence_costs_nothing(bot: MediaBot) -> None:
    bot.transcriber.text = "  "
    await bot.send(bot.voice("v1", b"audio"))
    assert bot.last() == "I could not hear any words in your recording. Nothing was charged."
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_recording_the_messenger_lost_costs_nothing(bot: MediaBot) -> None:
    voice = bot.voice("v1", b"audio")
    del bot.media.files["v1"]
    await bot.send(voice)
    assert "could not download your file" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000
    assert await bot.held(ALICE.id) == 0


async def test_a_recording_of_unknown_length_is_estimated_from_its_size(bot: MediaBot) -> None:
    await bot.send(bot.voice("v1", b"x" * 6_000, duration=None))  # 3 s at 16 kbit/s
    assert bot.sink.sent[-2].text.endswith(
        "(about 3 s, ≈30 tokens: the length is estimated from the file's size)"
    )
    assert await bot.balance(ALICE.id) == 30_000 - 30 - 15


async def test_the_length_the_server_measured_is_charged_when_the_messenger_gave_none(
    bot: MediaBot,
) -> None:
    bot.transcriber.seconds = 2.0
    await bot.send(bot.voice("v1", b"x" * 6_000, duration=None))
    assert bot.sink.sent[-2].text.endswith("(2 s, 20 tokens)")
    assert await bot.balance(ALICE.id) == 30_000 - 20 - 15


async def test_a_bot_without_a_transcriber_says_so() -> None:
    bot = media_bot()
    bot.service.reader.transcriber = None
    await bot.send(bot.voice("v1", b"audio"))
    assert "does not transcribe voice messages" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_transcript_whose_charge_cannot_be_saved_is_marked_unpaid(bot: MediaBot) -> None:
    await _account(bot)
    disk = FailingDisk(bot.accounts)
    bot.use_accounts(disk)
    await bot.send(bot.voice("v1", b"audio"))
    assert "Not charged: the bot cannot save its data" in bot.sink.sent[-2].text
    assert await bot.held(ALICE.id) == 0


# -- pictures in ---------------------------------------------------------------------------------


async def test_a_model_that_cannot_see_says_so_and_charges_nothing(bot: MediaBot) -> None:
    await bot.send(bot.picture("p1"), text="what is this?")
    assert bot.last() == (
        "The model plain cannot see pictures. Use /model to switch to one that can. "
        "Nothing was charged."
    )
    assert bot.model.requests == []
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_picture_reaches_a_model_that_sees_and_is_charged_at_its_price(
    bot: MediaBot,
) -> None:
    await bot.say("/model eyes")
    await bot.send(bot.picture("p1"), text="what is this?")
    request = bot.models["eyes"].requests[-1]
    message = request.turns[-1]
    assert message.text == "what is this?"
    assert [(i.data, i.mime) for i in message.images] == [(PNG_1x1, "image/png")]
    assert bot.models["plain"].requests == []
    assert await bot.balance(ALICE.id) == 30_000 - 30  # 15 tokens at price 2
    assert bot.last().endswith("Tokens used: 15 · charged: 30")  # used, and paid at ×2


async def test_a_reply_sends_the_picture_again_fetched_by_its_reference(bot: MediaBot) -> None:
    await bot.say("/model eyes")
    await bot.send(bot.picture("p1"))
    answer = bot.sink.sent[-1].message_ids[0]
    await bot.say("and the colours?", reply_to=answer)
    assert bot.media.fetched == ["p1", "p1"]
    first = bot.models["eyes"].requests[-1].turns[1]
    assert (first.role, first.text, len(first.images)) == (Role.USER, "", 1)


async def test_an_older_picture_that_is_gone_becomes_a_note(bot: MediaBot) -> None:
    await bot.say("/model eyes")
    await bot.send(bot.picture("p1"), text="look")
    answer = bot.sink.sent[-1].message_ids[0]
    del bot.media.files["p1"]
    await bot.say("and now?", reply_to=answer)
    first = bot.models["eyes"].requests[-1].turns[1]
    assert (first.text, first.images) == ("[picture no longer available]\nlook", ())
    assert bot.last().startswith("Hello, world")


async def test_a_picture_that_cannot_be_fetched_costs_nothing(bot: MediaBot) -> None:
    await bot.say("/model eyes")
    picture = bot.picture("p1")
    del bot.media.files["p1"]
    await bot.send(picture)
    assert "could not download your file" in bot.last()
    assert bot.models["eyes"].requests == []
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_picture_too_large_is_refused_before_download() -> None:
    bot = media_bot(EYES, max_image_bytes=10)
    await bot.send(bot.picture("p1"))
    assert bot.last() == (
        "Your picture is larger than 1e-05 MB, the most I accept. Nothing was charged."
    )
    assert bot.media.fetched == []


async def test_only_the_newest_pictures_of_a_conversation_are_sent_again() -> None:
    bot = media_bot(EYES, max_thread_images=2)
    reply_to = None
    for n in range(3):
        await bot.send(bot.picture(f"p{n}"), text=f"picture {n}", reply_to=reply_to)
        reply_to = bot.sink.sent[-1].message_ids[0]
    turns = bot.model.requests[-1].turns
    users = [t for t in turns if t.role is Role.USER]
    assert [(t.text, len(t.images)) for t in users] == [
        ("[picture]\npicture 0", 0),
        ("picture 1", 1),
        ("picture 2", 1),
    ]


async def test_the_hold_counts_the_pictures(bot: MediaBot) -> None:
    await bot.say("/model eyes")
    await _set(bot, balance=500)
    await bot.send(bot.picture("p1"))
    # a 1x1 picture is 255 tokens, at price 2 more than 500 with the system prompt
    assert "Not enough tokens" in bot.last()
    assert bot.models["eyes"].requests == []


# -- files ---------------------------------------------------------------------------------------


async def test_a_text_file_is_read_into_the_message(bot: MediaBot) -> None:
    await bot.send(bot.document("d1", b"line one\nline two\n"), text="summarise")
    assert bot.model.requests[-1].turns[-1].text == (
        "summarise\n\n[File: notes.txt]\nline one\nline two\n[End of file: notes.txt]"
    )


async def test_a_binary_file_is_refused_plainly(bot: MediaBot) -> None:
    await bot.send(bot.document("d1", b"\xff\xfe\x00bin", name="data.txt"))
    assert bot.last() == (
        "data.txt does not contain text I can read (it looks like a binary file). "
        "Nothing was charged."
    )
    assert bot.model.requests == []


async def test_an_unsupported_file_is_refused_plainly(bot: MediaBot) -> None:
    await bot.send(bot.document("d1", b"MZ", name="setup.exe"))
    assert bot.last().startswith("I cannot read setup.exe")


async def test_a_file_too_large_is_refused_before_download() -> None:
    bot = media_bot(max_document_bytes=1_000)
    await bot.send(bot.document("d1", b"x" * 2_000))
    assert "larger than 0.001 MB" in bot.last()
    assert bot.media.fetched == []


# -- /image --------------------------------------------------------------------------------------


async def test_image_draws_charges_and_sends_the_picture(bot: MediaBot) -> None:
    request = await bot.say("/image a red fox")
    sent = bot.sink.sent[-1]
    assert sent.picture is not None
    assert sent.text == "a red fox\n\nTokens used: 1 000"
    assert bot.maker.prompts == ["a red fox"]
    assert await bot.balance(ALICE.id) == 29_000
    await bot.say("make it blue", reply_to=sent.message_ids[0])
    turns = [(t.role, t.text) for t in bot.model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "Draw a picture: a red fox"),
        (Role.ASSISTANT, "[A picture drawn for the description: a red fox]"),
        (Role.USER, "make it blue"),
    ]
    assert sent.reply_to == request.message_id  # a reply to the request, in private too


async def test_image_without_a_description_explains(bot: MediaBot) -> None:
    await bot.say("/image")
    assert bot.last().startswith("Describe the picture after the command")
    assert bot.maker.prompts == []


async def test_image_the_balance_cannot_pay_is_refused(bot: MediaBot) -> None:
    await _set(bot, balance=999)
    await bot.say("/image a fox")
    assert "a picture costs 1 000 and you have 999 available" in bot.last()
    assert bot.maker.prompts == []


async def test_image_refused_by_the_provider_costs_nothing(bot: MediaBot) -> None:
    bot.maker.fail_with = [errors.ContentFiltered("moderation_blocked")]
    await bot.say("/image something")
    assert bot.last().startswith("The picture could not be made.")
    assert await bot.balance(ALICE.id) == 30_000
    assert await bot.held(ALICE.id) == 0


async def test_image_failing_with_the_database_gone_says_why_and_tells_the_admin(
    bot: MediaBot,
) -> None:
    # The hold cannot be given back either (the same database): the person still reads why
    # there is no picture, not "could not save your data"; the admin hears of the hold.
    await _account(bot)
    bot.use_accounts(FailingDisk(bot.accounts, releases_fail=True))
    bot.maker.fail_with = [errors.ContentFiltered("moderation_blocked")]
    await bot.say("/image something")
    await bot.service.drain()
    assert bot.last().startswith("The picture could not be made.")
    assert any("could not be given back" in t for t in bot.operator.notices)


async def test_a_picture_whose_charge_cannot_be_saved_is_sent_marked_unpaid(
    bot: MediaBot,
) -> None:
    await _account(bot)
    bot.use_accounts(FailingDisk(bot.accounts, releases_fail=True))
    await bot.say("/image a fox")
    sent = bot.sink.sent[-1]
    assert sent.picture is not None
    assert "Not charged" in sent.text


async def test_image_that_cannot_be_delivered_is_refunded(bot: MediaBot) -> None:
    await _account(bot)
    bot.use_sink(GoneChat(bot.sink, typing_works=True))
    await bot.say("/image a fox")
    assert await bot.balance(ALICE.id) == 30_000
    assert (await bot.totals()).tokens == 0


async def test_a_bot_without_an_image_maker_says_so() -> None:
    bot = media_bot()
    bot.service.commands.painter.maker = None
    await bot.say("/image a fox")
    assert bot.last() == "This bot does not draw pictures (the admin has not set it up)."


# -- /model --------------------------------------------------------------------------------------


async def test_model_lists_the_models_with_their_prices(bot: MediaBot) -> None:
    await bot.say("/model")
    assert bot.last() == (
        "Models (the price is how many of your tokens one token of the model costs):\n"
        "• plain — ×1 (yours)\n"
        "• eyes — ×2, sees pictures — the sharp one\n\n"
        "Choose one: /model <name>"
    )


async def test_model_switches_and_is_remembered(bot: MediaBot) -> None:
    await bot.say("/model EYES")
    assert bot.last() == "Your model is now eyes. It answers your next messages."
    assert (await bot.account(ALICE.id)).model == "eyes"
    await bot.say("hi")
    assert len(bot.models["eyes"].requests) == 1
    assert bot.models["plain"].requests == []


async def test_an_unknown_model_is_refused_with_the_list(bot: MediaBot) -> None:
    await bot.say("/model gpt-9")
    assert bot.last().startswith("There is no model called “gpt-9”.")
    assert (await bot.account(ALICE.id)).model is None


async def test_a_model_no_longer_offered_falls_back_to_the_default(bot: MediaBot) -> None:
    await _set(bot, model="retired")
    await bot.say("hi")
    assert len(bot.models["plain"].requests) == 1


async def test_a_free_model_holds_and_charges_nothing() -> None:
    bot = media_bot(FREE)
    await _set(bot, balance=-5)
    await bot.say("hi")
    assert bot.last() == "Hello, world\n\nTokens used: 15 · charged: 0"  # used, not "0"
    assert await bot.balance(ALICE.id) == -5
    assert (await bot.account(ALICE.id)).requests == 1


async def test_a_dear_model_is_charged_its_price_rounded_up() -> None:
    bot = media_bot(ModelOption("dear", price=1.5))
    await bot.say("hi")  # 15 tokens
    assert await bot.balance(ALICE.id) == 30_000 - 23


# -- cancelled mid-work: what a shutdown does to work in flight ----------------------------------


async def test_a_picture_cancelled_while_being_made_holds_and_charges_nothing(
    bot: MediaBot,
) -> None:
    account = await _account(bot)
    totals = await bot.totals()
    bot.maker.gate = asyncio.Event()
    incoming = bot.message("/image a fox")
    drawing = asyncio.create_task(bot.service.commands.painter.draw(incoming, account, "a fox"))
    await bot.maker.arrived.wait()
    assert await bot.held(ALICE.id) == 1_000  # the premise: the price is held
    drawing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drawing
    assert await bot.held(ALICE.id) == 0
    assert await bot.account(ALICE.id) == account
    assert await bot.totals() == totals


async def test_a_transcription_cancelled_midway_holds_and_charges_nothing(bot: MediaBot) -> None:
    account = await _account(bot)
    totals = await bot.totals()
    bot.transcriber.gate = asyncio.Event()
    incoming = attrs.evolve(bot.message(""), attachments=(bot.voice("v1", b"audio"),))
    hearing = asyncio.create_task(bot.service.reader.prepare(incoming, account, ""))
    await bot.transcriber.arrived.wait()
    assert await bot.held(ALICE.id) == 40  # the premise: 4 s at 10 tokens a second are held
    hearing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hearing
    assert await bot.held(ALICE.id) == 0
    assert await bot.account(ALICE.id) == account
    assert await bot.totals() == totals


async def _account(bot: MediaBot) -> Account:
    """Alice's account, registered if new (by a message the bot answers)."""
    account = await bot.accounts.get(ALICE.id)
    if account is None:
        await bot.say("/balance")
        account = await bot.accounts.get(ALICE.id)
    assert account is not None
    return account


async def _set(bot: MediaBot, **fields: object) -> None:
    """Set fields of Alice's account (registering her first)."""
    await _account(bot)
    await bot.accounts.change(ALICE.id, lambda a: attrs.evolve(a, **fields))  # type: ignore[arg-type]


async def test_a_recording_of_unknown_length_and_size_is_estimated_once_fetched(
    bot: MediaBot,
) -> None:
    voice = attrs.evolve(bot.voice("v1", b"x" * 4_000, duration=None), size=None)
    await bot.send(voice)
    assert "(about 2 s, ≈20 tokens" in bot.sink.sent[-2].text
    assert await bot.balance(ALICE.id) == 30_000 - 20 - 15


async def test_a_recording_the_transcriber_finds_too_large_says_so(bot: MediaBot) -> None:
    bot.transcriber.fail_with = [errors.ContextTooLong("413 Request Entity Too Large")]
    await bot.send(bot.voice("v1", b"audio"))
    assert bot.last() == (
        "Your recording is larger than 25 MB, the most I can transcribe. Nothing was charged."
    )
    assert await bot.balance(ALICE.id) == 30_000


async def test_a_transcript_whose_answer_is_refused_is_given_back(bot: MediaBot) -> None:
    await _set(bot, balance=60)  # pays the recording (40), not an answer to it
    await bot.send(bot.voice("v1", b"audio", duration=4))
    assert bot.sink.sent[-2].text.endswith("(4 s, 40 tokens)")
    assert "Nothing was charged" in bot.last()
    assert await bot.balance(ALICE.id) == 60
    account = await bot.account(ALICE.id)
    assert (account.requests, account.tokens) == (0, 0)
    assert await bot.held(ALICE.id) == 0


async def test_a_transcript_whose_answer_fails_is_given_back(bot: MediaBot) -> None:
    bot.model.fail_with = [errors.ModelUnavailable("500")]
    await bot.send(bot.voice("v1", b"audio", duration=4))
    assert "Nothing was charged" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000
    assert (await bot.totals()).tokens == 0


async def test_the_longer_of_the_declared_and_measured_lengths_is_charged(bot: MediaBot) -> None:
    bot.transcriber.seconds = 7.0
    await bot.send(bot.voice("v1", b"x" * 100, duration=1))  # the client declared 1 s
    assert bot.sink.sent[-2].text.endswith("(7 s, 10 tokens)")  # but no more than was held
    assert await bot.balance(ALICE.id) == 30_000 - 10 - 15


@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), -3.0, 1e308])
async def test_an_absurd_measured_length_holds_nothing_after(bot: MediaBot, seconds: float) -> None:
    bot.transcriber.seconds = seconds
    await bot.send(bot.voice("v1", b"x" * 4_000, duration=None))
    assert await bot.held(ALICE.id) == 0
    assert bot.last().startswith("Hello, world")


async def test_a_free_recording_is_shown_and_charged_as_free() -> None:
    bot = media_bot(transcription_tokens_per_second=0.0)
    await bot.send(bot.voice("v1", b"audio", duration=4))
    assert bot.sink.sent[-2].text == "🎤 “what is the capital of France”"
    assert await bot.balance(ALICE.id) == 30_000 - 15
    assert (await bot.account(ALICE.id)).tokens == 15


async def test_lone_surrogates_from_a_file_name_or_a_transcript_are_mended(bot: MediaBot) -> None:
    bot.transcriber.text = "caf\udce9"  # a server's JSON may hold "\udce9"
    document = bot.document("d1", b"hello", name="notes\udcff.txt")
    await bot.send(bot.voice("v1", b"audio"), document)
    message = bot.model.requests[-1].turns[-1].text
    assert message == "caf\ufffd\n\n[File: notes\ufffd.txt]\nhello\n[End of file: notes\ufffd.txt]"
    message.encode("utf-8")  # storable and sendable


async def test_a_model_with_a_smaller_cap_says_the_cap_not_the_balance_cut_it() -> None:
    bot = media_bot(ModelOption("small", reply_cap=100), reply_cap=3_000)
    bot.model.cut_off = True
    await bot.say("tell me everything")
    assert "(The answer reached the length limit of 100 tokens." in bot.last()


# -- media checked by its content, before anything is held ---------------------------------------

SPEECH = b"OggS 2.4 seconds of real speech"


def checked_bot(**config: object) -> MediaBot:
    return media_bot(probe=KnownMedia({SPEECH: 2.4}), **config)


async def test_a_forged_short_length_is_charged_by_the_measured_one() -> None:
    bot = checked_bot()
    await bot.send(bot.voice("v1", SPEECH, duration=1.0))  # the client declared 1 s
    assert bot.sink.sent[-2].text.endswith("(2.4 s, 24 tokens)")
    assert await bot.balance(ALICE.id) == 30_000 - 24 - 15
    assert await bot.held(ALICE.id) == 0


async def test_the_hold_is_sized_by_the_measured_length() -> None:
    bot = checked_bot()
    await _set(bot, balance=20)  # pays a declared second (10), not the 2.4 s measured (24)
    await bot.send(bot.voice("v1", SPEECH, duration=1.0))
    assert "costs about 24 and you have 20 available" in bot.last()
    assert bot.transcriber.heard == []
    assert await bot.balance(ALICE.id) == 20


async def test_a_measured_length_past_the_limit_is_refused_before_the_hold() -> None:
    bot = checked_bot(max_voice_seconds=2)
    await bot.send(bot.voice("v1", SPEECH, duration=1.0))
    assert "3 seconds long; the limit is 2" in bot.last()
    assert bot.transcriber.heard == []
    assert await bot.balance(ALICE.id) == 30_000


@pytest.mark.parametrize("data", [b"", b"just some text, named voice.ogg"])
async def test_a_recording_that_is_no_sound_is_refused_before_the_hold(data: bytes) -> None:
    bot = checked_bot()
    await _set(bot, balance=0)  # checked before the balance is: the refusal says what is wrong
    await bot.send(bot.voice("v1", data, duration=3.0))
    assert bot.last() == (
        "Your file does not seem to be a sound recording I can measure and transcribe (I take "
        "voice messages and Ogg/Opus, MP3, M4A, WAV or FLAC files). Nothing was charged."
    )
    assert bot.transcriber.heard == []
    assert bot.model.requests == []
    assert await bot.held(ALICE.id) == 0
    account = await bot.account(ALICE.id)
    assert (account.balance, account.requests, account.tokens) == (0, 0, 0)


async def test_a_picture_that_is_no_picture_is_refused_before_the_hold() -> None:
    bot = checked_bot()
    await bot.say("/model eyes")
    await _set(bot, balance=0)  # checked before the balance is
    await bot.send(bot.picture("p1", b"plain text in a file named photo.png"), text="what?")
    assert bot.last() == (
        "Your file does not seem to be a picture I can show the model (I take PNG, JPEG, WebP "
        "and GIF pictures). Nothing was charged."
    )
    assert bot.models["eyes"].requests == []
    assert await bot.held(ALICE.id) == 0
    account = await bot.account(ALICE.id)
    assert (account.balance, account.requests, account.tokens) == (0, 0, 0)


async def test_a_real_picture_goes_through_with_the_type_its_content_says() -> None:
    bot = checked_bot()
    await bot.say("/model eyes")
    picture = attrs.evolve(bot.picture("p1"), mime="image/jpeg")  # declared wrongly
    await bot.send(picture, text="what is it?")
    request = bot.models["eyes"].requests[-1]
    assert [image.mime for image in request.turns[-1].images] == ["image/png"]
    assert bot.last().startswith("Hello, world")


async def test_an_older_picture_that_fails_the_check_becomes_a_note() -> None:
    bot = checked_bot()
    await bot.say("/model eyes")
    await bot.send(bot.picture("p1"), text="look")
    answer = bot.sink.sent[-1].message_ids[0]
    bot.media.files["p1"] = b"replaced by something that is no picture"
    await bot.say("and now?", reply_to=answer)
    first = bot.models["eyes"].requests[-1].turns[1]
    assert (first.text, first.images) == ("[picture no longer available]\nlook", ())
    assert bot.last().startswith("Hello, world")
