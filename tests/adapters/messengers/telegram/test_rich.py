"""Rich messages: the model's Markdown as Telegram renders it, cut between blocks, and never an
answer lost when Telegram refuses one (the fake Telegram checks the documented limits)."""

from __future__ import annotations

import logging

import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram import rich
from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.sink import TelegramSink
from adapters.models.openai.chat import OpenAIChatModel
from core.tokens import CharTokenCounter
from core.values import Role
from tests.adapters.messengers.telegram import fake_rich
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    entity_texts,
    incoming,
)
from tests.adapters.messengers.telegram.test_with_core import account, on_telegram, served
from tests.adapters.models.openai.llama_server import llama_server
from tests.fakes import ScriptedModel

TABLE = "\n".join(
    [
        "| Planet | Mass (kg) | Moons | Price |",
        "|:--|--:|:-:|---|",
        *(f"| Planet {n} | {n}.97e24 | {n % 7} | $ {n}0 |" for n in range(1, 9)),
    ]
)
FORMULA = "$$\n\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n$$"
CODE = "```python\n" + "\n".join(f"print({n} ** 2)  # line {n}" for n in range(40)) + "\n```"


def long_answer(size: int = 12_000) -> str:
    """Headings, prose, a table, a formula and code: about ``size`` characters."""
    sections: list[str] = []
    n = 0
    while len("\n\n".join(sections)) < size:
        n += 1
        sections += [
            f"## Part {n}",
            f"Energy is $E = mc^2$, and the price went from $5 to $10 in part {n}. " * 8,
            TABLE,
            FORMULA,
            CODE,
        ]
    return "\n\n".join(sections)


def sink_for(tg: FakeTelegram, ticker: Ticker, **options: object) -> TelegramSink:
    return TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep, **options)  # type: ignore[arg-type]


# -- the dialect ------------------------------------------------------------------------------


def test_tables_and_math_are_kept_and_what_telegram_would_misread_is_escaped() -> None:
    source = (
        "# Title\n\nIt costs $5 and $10, see <div> and `a $ b`.\n\n"
        "Inline \\(a^2 + b^2\\) and $x_1$.\n\n\\[\ne = mc^2\n\\]\n\n" + TABLE
    )
    normalised = rich.normalise(source)

    assert "# Title" in normalised
    assert "It costs \\$5 and \\$10, see \\<div> and `a $ b`." in normalised
    assert "Inline $a^2 + b^2$ and $x_1$." in normalised
    assert "$$\ne = mc^2\n$$" in normalised
    assert TABLE.split("\n")[0] in normalised
    assert "|:--|--:|:-:|---|" in normalised
    assert fake_rich.refusal(normalised) is None


def test_inside_a_formula_nothing_is_escaped() -> None:
    assert rich.normalise("If $a<b$ and <b>bold</b>") == "If $a<b$ and \\<b>bold\\</b>"


def test_a_hashtag_is_no_heading() -> None:
    assert rich.normalise("Tags:\n#python and #telegram") == "Tags:\n#python and #telegram"


def test_a_cut_answer_has_its_code_block_and_formula_closed() -> None:
    assert rich.normalise("Look:\n```python\nprint(1)") == "Look:\n\n```python\nprint(1)\n```"
    assert rich.normalise("$$\nx^2") == "$$\nx^2\n$$"


def test_a_table_wider_than_telegram_takes_goes_as_code() -> None:
    wide = "|" + "|".join(f"c{n}" for n in range(25)) + "|\n|" + "---|" * 25 + "\n|" + "1|" * 25
    normalised = rich.normalise(wide)
    assert normalised.startswith("```\n|c0|")
    assert fake_rich.refusal(normalised) is None
    assert fake_rich.refusal(wide) == "RICH_TABLE_COLUMNS_TOO_MANY"


def test_a_long_answer_is_cut_between_blocks_only() -> None:
    answer = long_answer(30_000)
    messages = rich.messages(answer, 8_000)

    assert len(messages) > 3
    assert all(len(m) <= 8_000 and fake_rich.refusal(m) is None for m in messages)
    for message in messages:
        # Whole formulas, whole code blocks, whole table rows under their header.
        assert message.count("$$") % 2 == 0
        assert message.count("```") % 2 == 0
        for line in message.split("\n"):
            if line.startswith("| Planet "):
                assert line.endswith("|")
    assert "\n\n".join(messages) == rich.normalise(answer)


def test_a_table_longer_than_a_message_repeats_its_header() -> None:
    rows = "\n".join(f"| row {n} | {'x' * 50} |" for n in range(300))
    messages = rich.messages(f"| a | b |\n|---|---|\n{rows}", 4_000)

    assert len(messages) > 3
    assert all(m.startswith("| a | b |\n|---|---|\n| row ") for m in messages)
    assert sum(m.count("| row ") for m in messages) == 300


# -- through Telegram -------------------------------------------------------------------------


async def test_a_12000_character_answer_arrives_as_rich_messages_with_table_and_formula() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    answer = long_answer(12_000)
    ids = await sink_for(tg, ticker).stream(ALICE.id, None).finish(answer)

    # RICH_MESSAGE_LIMIT's default (8 000) takes two rich messages, cut between blocks.
    assert len(ids) == 2 == len(tg.sent())
    shown = [tg.rich[(ALICE.id, i)] for i in ids]
    assert all(rich.normalise(TABLE) in markdown for markdown in shown)  # whole tables
    assert all(FORMULA in markdown for markdown in shown)
    assert "\n\n".join(shown) == rich.normalise(answer)
    assert tg.sent()[1].reply_to.reply_to_msg_id == ids[0]  # the second answers the first


async def test_up_to_the_limit_setting_the_answer_is_one_rich_message() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    answer = long_answer(12_000)
    [only] = await sink_for(tg, ticker, rich_size=16_000).stream(ALICE.id, None).finish(answer)

    assert tg.rich[(ALICE.id, only)] == rich.normalise(answer)
    assert TABLE.split("\n")[0] in tg.rich[(ALICE.id, only)]


async def test_a_message_over_telegrams_limits_is_refused_and_goes_as_entities() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    answer = "Words and words. " * 2_400  # 40 800 characters in one paragraph
    sink = sink_for(tg, ticker, rich_size=32_768 * 2)
    ids = await sink.stream(ALICE.id, None).finish(answer)

    [refused] = [r for r in tg.sent() if r.rich_message is not None]
    assert fake_rich.refusal(refused.rich_message.markdown) == "RICH_TEXT_TOO_LONG"
    assert len(ids) == len(tg.shown(ALICE.id)) == 10  # the entities path, 4096 a message
    assert not tg.rich
    assert " ".join(m.message for m in tg.shown(ALICE.id)) == answer.strip()


async def test_a_group_answer_streams_by_edits_and_ends_as_a_rich_edit() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    stream = sink_for(tg, ticker).stream(GROUP_ID, 7)
    await stream.update("| a | b |")
    ticker.advance(5)
    [first] = await stream.finish("| a | b |\n|---|---|\n| 1 | 2 |")

    assert [r.message for r in tg.sent()] == ["| a | b |"]  # the interim text, plain
    [final] = tg.edits()
    assert final.rich_message.markdown == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert tg.rich[(GROUP_ID, first)] == final.rich_message.markdown


async def test_private_drafts_are_rich_drafts() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    stream = sink_for(tg, ticker).stream(ALICE.id, None)
    await stream.update("Here:\n\n```python\nprint(1)")

    [draft] = tg.of(functions.messages.SetTypingRequest)
    assert isinstance(draft.action, types.InputSendMessageRichMessageDraftAction)
    assert draft.action.can_stop
    assert draft.action.rich_message.markdown == "Here:\n\n```python\nprint(1)\n```"


async def test_a_refused_rich_draft_goes_on_as_a_text_draft() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    tg.fail(
        functions.messages.SetTypingRequest,
        lambda r: errors.BadRequestError(r, "RICH_VALIDATE_CTOR_NOT_ALLOWED"),
    )
    stream = sink_for(tg, ticker).stream(ALICE.id, None)
    await stream.update("first words")

    actions = [r.action for r in tg.of(functions.messages.SetTypingRequest)]
    assert [type(a) for a in actions] == [
        types.InputSendMessageRichMessageDraftAction,
        types.SendMessageTextDraftAction,
    ]
    assert actions[1].text.text == "first words"
    assert tg.edits() == []
    assert tg.sent() == []


# -- never lose an answer ---------------------------------------------------------------------


def refuse_rich(tg: FakeTelegram, times: int = 1) -> None:
    tg.fail(
        functions.messages.SendMessageRequest,
        lambda r: errors.BadRequestError(r, "RICH_MESSAGE_INVALID"),
        when=lambda r: r.rich_message is not None,
        times=times,
    )


async def test_a_refused_rich_answer_arrives_as_entities_and_is_charged_once() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    refuse_rich(tg)
    sink = sink_for(tg, ticker)
    model = ScriptedModel(pieces=("**Hello**", ", | world |"))
    app = on_telegram(sink, model)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("hello", message_id=5))
    await served(bot, app)

    [answer] = tg.shown(ALICE.id)
    assert answer.message == "Hello, | world |"
    assert entity_texts(answer.message, answer.entities) == [("Bold", "Hello")]
    assert len([r for r in tg.sent() if r.rich_message is not None]) == 1
    alice = await account(app, ALICE)
    assert alice.requests == 1
    assert alice.tokens == 15  # the model's usage, once
    sink.close()


async def test_repeated_refusals_use_entities_for_a_while_and_say_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, ticker = FakeTelegram(), Ticker()
    refuse_rich(tg, times=3)
    sink = sink_for(tg, ticker)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await sink.stream(ALICE.id, None).finish("**bold**")
    assert "refused 3 rich messages in a row (last: RICH_MESSAGE_INVALID)" in caplog.text
    tried = len(tg.sent())

    await sink.stream(ALICE.id, None).finish("**bold**")
    assert len(tg.sent()) == tried + 1  # straight to entities: no rich try first
    assert tg.sent()[-1].rich_message is None

    ticker.advance(rich.RichHealth().pause)
    await sink.stream(ALICE.id, None).finish("**bold**")
    assert tg.sent()[-1].rich_message is not None  # rich is tried again


@pytest.mark.parametrize("message_format", [MessageFormat.RICH, MessageFormat.ENTITIES])
async def test_the_footer_and_its_approximation_stay_visible(
    message_format: MessageFormat,
) -> None:
    tg, ticker = FakeTelegram(), Ticker()
    footer = "\n\nTokens used: ≈1 234 (estimated: the model did not report it)"
    [message] = (
        await sink_for(tg, ticker, message_format=message_format)
        .stream(ALICE.id, None)
        .finish("A table:\n\n| a |\n|---|\n| 1 |" + footer)
    )

    shown = tg.rich.get((ALICE.id, message)) or tg.shown(ALICE.id)[0].message
    assert shown.endswith("Tokens used: ≈1 234 (estimated: the model did not report it)")


# -- reasoning --------------------------------------------------------------------------------


async def test_reasoning_shows_in_the_draft_then_folded_above_the_answer() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    stream = sink_for(tg, ticker).stream(ALICE.id, None)
    await stream.reason("Let me add 2 and 2 | carefully.")
    [draft] = [r.action for r in tg.of(functions.messages.SetTypingRequest)]
    assert draft.rich_message.markdown == "> Let me add 2 and 2 \\| carefully."

    [message] = await stream.finish("It is **4**.")
    shown = tg.rich[(ALICE.id, message)]
    assert shown.startswith("<details>\n<summary>💭</summary>\n\nLet me add 2 and 2 \\| careful")
    assert shown.endswith("</details>\n\nIt is **4**.")


async def test_with_entities_reasoning_is_an_expandable_quote() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    stream = sink_for(tg, ticker, message_format=MessageFormat.ENTITIES).stream(ALICE.id, None)
    await stream.reason("Thinking hard.")
    await stream.finish("It is **4**.")

    [message] = tg.shown(ALICE.id)
    assert message.message == "💭 Thinking hard.\n\nIt is 4."
    quote, _bold = message.entities
    assert isinstance(quote, types.MessageEntityBlockquote)
    assert quote.collapsed
    assert (quote.offset, quote.length) == (0, len("💭 Thinking hard.") + 1)  # the emoji: 2 units
    assert entity_texts(message.message, message.entities)[1] == ("Bold", "4")


async def test_show_reasoning_false_hides_it() -> None:
    tg, ticker = FakeTelegram(), Ticker()
    stream = sink_for(tg, ticker, show_reasoning=False).stream(ALICE.id, None)
    await stream.reason("secret thoughts")
    [message] = await stream.finish("It is 4.")

    assert tg.of(functions.messages.SetTypingRequest) == []
    assert tg.rich[(ALICE.id, message)] == "It is 4."


@pytest.mark.parametrize(
    "server",
    [
        {"reasoning": "Two and two make four.", "answer": "It is 4."},
        {"answer": "<think>Two and two make four.</think>\nIt is 4."},
    ],
    ids=["reasoning_content", "think-tags"],
)
async def test_reasoning_from_a_local_server_arrives_folded_and_is_never_sent_back(
    server: dict[str, str],
) -> None:
    tg, ticker = FakeTelegram(), Ticker()
    sink = sink_for(tg, ticker)
    async with llama_server(**server) as llama:
        model = OpenAIChatModel.create(
            api_key="local",
            model="local",
            counter=CharTokenCounter(),
            base_url=llama.base_url,
            timeout=10,
            max_retries=0,
        )
        app = on_telegram(sink, model)
        bot = TelegramBot(tg, app.service.submit, sink=sink)
        await bot.start()
        await tg.receive(incoming("what is 2 + 2?", message_id=5))
        await app.service.drain()
        [answer] = tg.shown(ALICE.id)
        await tg.receive(incoming("and 3 + 3?", message_id=6, reply_to=answer.id))
        await served(bot, app)
        await model.close()

    folded = tg.rich[(ALICE.id, answer.id)]
    assert folded.startswith("<details>\n<summary>💭</summary>\n\nTwo and two make four.")
    assert folded.endswith("</details>\n\nIt is 4.")
    # The second request carries the first answer, without its reasoning.
    second = llama.requests[1]["messages"]
    assert [m["role"] for m in second][-3:] == [Role.USER, Role.ASSISTANT, Role.USER]
    assert second[-2]["content"] == "It is 4."
    assert all("Two and two" not in m["content"] for m in second)
    sink.close()


@pytest.mark.parametrize("message_format", [MessageFormat.RICH, MessageFormat.ENTITIES])
async def test_an_answer_fetched_back_from_telegram_has_no_reasoning(
    message_format: MessageFormat,
) -> None:
    # The thread store lost the node: the answer's text comes from Telegram, without the
    # reasoning folded above it, since that would go back to the model.
    tg, ticker = FakeTelegram(), Ticker()
    sink = sink_for(tg, ticker, message_format=message_format)
    stream = sink.stream(ALICE.id, None)
    await stream.reason("Thinking hard.")
    [answer] = await stream.finish("It is **4**.")

    node = await sink.lookup(ALICE.id, answer)
    assert node is not None
    assert node.text in ("It is **4**.", "It is 4.")
