"""Voice notes on the fake Telegram: a real OGG/Opus recording (espeak-ng and opusenc) uploaded
and sent as a document whose audio attribute is a voice note with its length and waveform; and
with the real core, a spoken answer arriving after its text, every charge shown the one saved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from telethon import utils
from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.media.headers import opus_seconds
from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.models.offline.speech import EspeakSpeaker
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.errors import DeliveryFailed
from core.ports import ReplySink, VoiceNoteSink
from core.tokens import CharTokenCounter
from core.values import VoiceNote
from entrypoints.bootstrap import assemble
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    incoming,
)
from tests.fakes import ScriptedModel
from tests.media import speech_ogg

SendMedia = functions.messages.SendMediaRequest


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> VoiceNote:
    path = tmp_path_factory.mktemp("voice") / "note.ogg"
    data = speech_ogg("Hello. This is a spoken answer, with a pause.", path).read_bytes()
    seconds = opus_seconds(data)
    assert seconds is not None
    return VoiceNote(data, seconds)


def audio_of(message: types.Message) -> types.DocumentAttributeAudio:
    assert isinstance(message.media, types.MessageMediaDocument)
    [audio] = [
        a for a in message.media.document.attributes if isinstance(a, types.DocumentAttributeAudio)
    ]
    return audio


async def test_a_voice_note_goes_with_its_length_and_waveform(
    tg: FakeTelegram, sink: TelegramSink, voice: VoiceNote
) -> None:
    replies = TelegramReplies(sink)
    assert isinstance(replies, VoiceNoteSink)
    ids = await replies.send_voice(str(GROUP_ID), voice, "🔊 Tokens used: 90", "41")
    [shown] = tg.shown(GROUP_ID)
    assert ids == [str(shown.id)]
    assert shown.message == "🔊 Tokens used: 90"
    assert shown.reply_to.reply_to_msg_id == 41
    assert shown.media.voice is True
    assert shown.media.document.mime_type == "audio/ogg"
    audio = audio_of(shown)
    assert audio.voice is True
    assert audio.duration == round(voice.seconds)
    bars = utils.decode_waveform(audio.waveform)
    assert len(bars) == 100
    assert max(bars) == 31  # the loudest stretch is the tallest bar...
    assert min(bars) < 10  # ...and the pause between the sentences a low one
    [request] = tg.of(SendMedia)
    assert isinstance(request.media, types.InputMediaUploadedDocument)
    assert tg.files[shown.media.document.id].parts[""] == voice.data  # the bytes as made


async def test_a_voice_note_to_a_closed_chat_fails_plainly(
    tg: FakeTelegram, sink: TelegramSink, voice: VoiceNote
) -> None:
    sink.writer.closed.add(ALICE.id)
    with pytest.raises(DeliveryFailed):
        await sink.send_voice(ALICE.id, voice, "")


async def test_a_spoken_answer_arrives_as_a_voice_note_after_the_text(tmp_path: Path) -> None:
    tg = FakeTelegram()
    ticker = Ticker()
    # Three messages in one private chat: unpaced, or Telegram's one a second would take 2 s
    # of real time (the pacer runs on the loop's clock, not the ticker).
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep)
    replies = TelegramReplies(sink)
    port: ReplySink = replies
    accounts = MemoryAccountStore()
    app = assemble(
        BotConfig(admin_id="1", notify_new_users=False, speech_tokens_per_char=2.0),
        sink=port,
        lookup=replies,
        accounts=accounts,
        threads=MemoryThreadStore(),
        model=ScriptedModel(pieces=("Hello, ", "**world**.")),
        counter=CharTokenCounter(),
        clock=FakeClock(),
        speaker=EspeakSpeaker(),
    )
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("/voice on", message_id=1))
    await tg.receive(incoming("greet me", message_id=2))
    await bot.stop()
    await app.service.drain()
    await bot.close()
    sink.close()

    said, text, spoken = tg.shown(ALICE.id)
    assert said.message.startswith("Теперь после текста я присылаю ответ ещё и голосовым")
    assert text.message.replace("**", "").startswith("Hello, world.")  # rich or entities
    assert spoken.reply_to.reply_to_msg_id == text.id  # after the text, answering it
    audio = audio_of(spoken)
    assert audio.voice is True
    assert audio.duration >= 1
    assert len(utils.decode_waveform(audio.waveform)) == 100
    # Every charge shown is the charge saved: the answer's footer plus the voice note's caption.
    # (Alice's Telegram speaks Russian: "Израсходовано токенов" is "tokens used".)
    [answer_tokens] = re.findall(r"Израсходовано токенов: ([\d ]+)", text.message)
    [voice_tokens] = re.findall(r"Израсходовано токенов: ([\d ]+)", spoken.message)
    assert int(voice_tokens) == 2 * len("Hello, world.")
    shown = int(answer_tokens.replace(" ", "")) + int(voice_tokens)
    saved = await accounts.get(str(ALICE.id))
    assert saved is not None
    assert saved.balance == 30_000 - shown
    assert saved.tokens == shown
    assert await accounts.held(str(ALICE.id)) == 0
