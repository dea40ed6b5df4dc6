"""What the bot says is true: the admin is told whenever a text says so, once a minute per
kind of failure and not once per message; a balance stays out of a group; numbers are said
as they are (a footer says what was used and what was charged, a recording's length to the
tenth); a server's impossible usage is never a free answer."""

from __future__ import annotations

import re

import pytest

from adapters.clock import FakeClock
from core import errors
from core.models import ModelOption
from core.texts import LANGUAGES, text, without_footer
from core.values import Sender, Usage
from tests.fakes import FailingDisk
from tests.unit.conftest import ADMIN, ALICE, BOB, GROUP, Harness, make_harness
from tests.unit.test_media import MediaBot, media_bot

ADMIN_SENDER = Sender(ADMIN, "Admin")
TOLD = " The admin has been told."


def clock(bot: Harness) -> FakeClock:
    assert isinstance(bot.service.clock, FakeClock)
    return bot.service.clock


# -- the admin is told, and only said to be when they are ------------------------------------


async def test_a_full_disk_tells_the_admin_once_a_minute_with_a_count() -> None:
    bot = make_harness()
    await bot.say("register")
    bot.use_accounts(FailingDisk(bot.accounts))
    for n in range(80):
        await bot.say(f"question {n}")
        clock(bot).advance(0.5)  # 40 s in all: one minute is not over
    await bot.service.drain()
    assert bot.operator.notices == ["Saving data failed: disk full"]
    assert all(TOLD in answer for answer in bot.sink.texts(ALICE.id)[1:])

    clock(bot).advance(21)  # a minute after the first notice
    await bot.say("one more")
    await bot.service.drain()
    assert bot.operator.notices == [
        "Saving data failed: disk full",
        "Saving data failed: disk full\n(And 79 more like it since 12:00:00.)",
    ]


async def test_kinds_of_failure_are_counted_apart() -> None:
    bot = make_harness()
    service = bot.service
    service.notices.post("admin_storage", detail="disk full")
    service.notices.post("admin_not_delivered", who="Alice")
    service.notices.post("admin_storage", detail="disk full")
    service.notices.post("admin_not_delivered", who="Bob")
    service.notices.post("admin_request", who="Alice", tokens=5, text="hi")  # no failure
    service.notices.post("admin_request", who="Alice", tokens=5, text="hi")
    await service.drain()
    assert len(bot.operator.notices) == 4
    assert [n.split(":")[0] for n in bot.operator.notices[:2]] == [
        "Saving data failed",
        "An answer to Alice could not be delivered, so it was not charged.",
    ]


async def test_without_an_admin_to_tell_no_text_says_they_were_told() -> None:
    bot = make_harness()
    bot.service.notices.operator = None
    await bot.say("register")
    bot.use_accounts(FailingDisk(bot.accounts))
    await bot.say("hi")
    assert bot.last().endswith("(Not charged: the bot cannot save its data right now.)")
    bot.model.fail_with = [errors.AuthFailed("401")]
    await bot.say("hi")
    assert bot.last() == (
        "The bot cannot reach the model: its API key was rejected. Nothing was charged."
    )


async def test_voice_and_image_failures_tell_the_admin_and_name_what_fails() -> None:
    bot: MediaBot = media_bot()
    bot.transcriber.fail_with = [errors.AuthFailed("401 bad whisper key")] * 2
    await bot.send(bot.voice("v1", b"OggS fake opus"))
    voice = bot.last()
    await bot.send(bot.voice("v2", b"OggS fake opus"))  # told once per run and service
    bot.maker.fail_with = [errors.ModelMisconfigured("404 no model dall-e-9")]
    await bot.say("/image a cat")
    image = bot.last()
    bot.models["plain"].fail_with = [errors.AuthFailed("401 bad chat key")]
    await bot.say("hi")
    answer = bot.last()
    await bot.service.drain()

    assert voice == (
        "Your recording could not be transcribed. The transcription service rejected the "
        "bot's API key. The admin has been told. Nothing was charged."
    )
    assert image == (
        "The picture could not be made. The bot's picture settings are wrong, so it cannot "
        "draw until the admin fixes them. The admin has been told. Nothing was charged."
    )
    assert "cannot answer" not in voice + image  # text answers may well work
    assert TOLD in answer
    assert bot.operator.notices == [
        "Voice messages fail: the transcription service rejected the API key: "
        "401 bad whisper key\nCheck TRANSCRIPTION_API_KEY (or OPENAI_API_KEY).",
        "/image fails: the picture service refuses the bot's requests: 404 no model dall-e-9\n"
        "Check IMAGE_MODEL, IMAGE_SIZE and OPENAI_BASE_URL.",
        "Answers fail: the model provider rejected the API key: 401 bad chat key\n"
        "Check OPENAI_API_KEY (or the model's key in MODELS).",
    ]
    assert await bot.balance(ALICE.id) == 30_000


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_text_says_the_admin_was_told_only_through_told(language: str) -> None:
    texts = LANGUAGES[language].texts
    told = texts["admin_told"].strip()
    for key, template in texts.items():
        if key == "admin_told":
            continue
        assert told not in template, f"{language}/{key} says it without knowing"
    telling = [key for key, template in texts.items() if "{told}" in template]
    assert {"err_storage", "not_charged_storage", "err_auth_voice", "err_auth_image"} <= set(
        telling
    )
    for key in telling:
        values = {"prompt": "p", "text": "t", "detail": "d"}
        assert told in text(language, key, told=texts["admin_told"], **values)
        assert told not in text(language, key, **values)


# -- what the group sees ---------------------------------------------------------------------


async def test_a_topup_in_a_group_shows_the_balance_only_to_the_admin(bot: Harness) -> None:
    await bot.say("hi")  # Alice: 30 000 - 15
    await bot.say("/topup 100 5000", sender=ADMIN_SENDER, chat_id=GROUP)
    await bot.service.drain()
    assert bot.sink.texts(GROUP) == ["Done: the new balance is in your private chat with the bot."]
    assert bot.operator.notices[-1] == "Alice @alice (100) now has 34 985 tokens."
    assert await bot.balance(ALICE.id) == 34_985


# -- numbers said as they are ----------------------------------------------------------------


async def test_a_priced_answer_says_what_was_used_and_what_was_charged() -> None:
    bot = make_harness(models=(ModelOption("dear", price=8.0),))
    await bot.say("hi")
    assert bot.last() == "Hello, world\n\nTokens used: 15 · charged: 120"
    assert await bot.balance(ALICE.id) == 30_000 - 120
    await bot.say("привет", sender=BOB)
    assert bot.last().endswith("Израсходовано токенов: 15 · списано: 120")
    await bot.say("hi", sender=ADMIN_SENDER)  # the admin pays nothing: no "charged"
    assert bot.last() == "Hello, world\n\nTokens used: 15"
    bot.model.usage = None
    await bot.say("hi")
    estimated = re.fullmatch(
        r"Hello, world\n\nTokens used: ≈(\d+) · charged: (\d+) \(estimated: the model did not "
        r"report it\)",
        bot.last(),
    )
    assert estimated is not None
    assert int(estimated.group(2)) == int(estimated.group(1)) * 8
    for shown in bot.sink.texts(ALICE.id) + bot.sink.texts(BOB.id):
        assert without_footer(shown) == "Hello, world"  # a reply to it sends the model its words


async def test_an_answer_of_a_free_model_says_what_it_used() -> None:
    bot = make_harness(models=(ModelOption("free", price=0.0),))
    await bot.say("hi")
    assert bot.last() == "Hello, world\n\nTokens used: 15 · charged: 0"


async def test_a_negative_usage_report_is_estimated_not_free(bot: Harness) -> None:
    bot.model.usage = Usage(-100, -5)
    await bot.say("hi")
    charged = 30_000 - await bot.balance(ALICE.id)
    assert charged > 0
    assert bot.last().endswith(f"Tokens used: ≈{charged} (estimated: the model did not report it)")


async def test_a_recordings_length_is_said_to_the_tenth_in_the_persons_language() -> None:
    bot: MediaBot = media_bot()
    await bot.send(bot.voice("v1", b"OggS fake opus", duration=2.66), sender=BOB)
    await bot.send(bot.voice("v2", b"OggS fake opus", duration=3.0))
    assert bot.sink.sent[-4].text.endswith("(2,7 с, 27 токенов)")  # not "3 с"
    assert bot.sink.sent[-2].text.endswith("(3 s, 30 tokens)")
