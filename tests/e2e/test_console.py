"""The console bot driven end to end with piped input, on the offline model and real files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import re
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.storage.sqlite.threads import SqliteThreads
from core.values import Node, Role
from entrypoints.console import run_console
from entrypoints.settings import settings_from

pytestmark = pytest.mark.slow  # the console bot in subprocesses

ROOT = Path(__file__).resolve().parents[2]


async def run(tmp_path: Path, script: str, **env: str) -> str:
    settings = settings_from({"OFFLINE_MODEL_DELAY": "0", "ADMIN_CHAT_ID": "1", **env}, tmp_path)
    out = io.StringIO()
    status = await run_console(settings, io.StringIO(script), out)
    assert status == 0
    return out.getvalue()


def data(tmp_path: Path) -> dict[str, dict[str, object]]:
    loaded: dict[str, dict[str, object]] = json.loads((tmp_path / "data.json").read_text())
    return loaded


def write_balance(tmp_path: Path, balance: int) -> None:
    user = {"requests": 0, "tokens": 0, "balance": balance}
    (tmp_path / "data.json").write_text(json.dumps({"global": {}, "100": user}))


def bot_ids(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\[(\d+)\] bot → user 100", output, re.MULTILINE)]


async def test_three_level_reply_chain_is_sent_whole(tmp_path: Path) -> None:
    out = await run(tmp_path, "first question\n")
    answer = bot_ids(out)[-1]
    out = await run(tmp_path, f">{answer} second question\n")
    answer = bot_ids(out)[-1]
    out = await run(tmp_path, f">{answer} third question\n")
    assert "I received 5 turn(s): 4 earlier and your message." in out
    assert "Turn 1, user: «first question»" in out
    assert "Turn 3, user: «second question»" in out
    assert "You said: «third question»" in out


async def test_message_replying_to_nothing_starts_fresh(tmp_path: Path) -> None:
    out = await run(tmp_path, "one\ntwo\n")
    assert out.count("I received 1 turn(s): 0 earlier") == 2


async def test_reply_to_a_message_the_bot_never_saw_starts_fresh(tmp_path: Path) -> None:
    out = await run(tmp_path, ">999 hello\n")
    assert "I received 1 turn(s)" in out


async def test_prompt_set_shown_reset_and_other_users_unaffected(tmp_path: Path) -> None:
    out = await run(
        tmp_path,
        "/prompt You are Marv - a sarcastic reluctant assistant\n"
        "hello\n"
        "/prompt\n"
        ":user 200 Bob\n"
        "hello from bob\n"
        ":user 100 You\n"
        "/prompt reset\n"
        "hello again\n",
    )
    answers = re.findall(r"System prompt: «(.*?)»", out)
    assert answers == [
        "You are Marv - a sarcastic reluctant assistant",
        "You are a helpful assistant",
        "You are a helpful assistant",
    ]
    assert "Your system prompt:\nYou are Marv" in out
    assert "prompt" not in data(tmp_path)["100"]
    assert "prompt" not in data(tmp_path)["200"]


async def test_balance_charged_per_answer_and_admin_never_charged(tmp_path: Path) -> None:
    await run(tmp_path, "hello\nhello again\n:admin\nhello as admin\n")
    users = data(tmp_path)
    user, admin = users["100"], users["1"]
    assert user["requests"] == 2
    assert isinstance(user["tokens"], int)
    assert user["tokens"] > 0
    assert user["balance"] == 30_000 - user["tokens"]
    assert admin["balance"] == 30_000
    assert admin["requests"] == 1
    assert users["global"]["tokens"] == user["tokens"] + admin["tokens"]  # type: ignore[operator]


async def test_small_balance_is_refused_without_going_negative(tmp_path: Path) -> None:
    write_balance(tmp_path, 40)
    out = await run(tmp_path, "please write me a long story\n/balance\n")
    assert "Not enough tokens" in out
    assert "Nothing was charged" in out
    assert "Your balance: 40 tokens." in out
    assert data(tmp_path)["100"]["balance"] == 40


async def test_two_concurrent_requests_cannot_overdraw(tmp_path: Path) -> None:
    write_balance(tmp_path, 400)
    out = await run(
        tmp_path,
        "& tell me about cats\n:group -7\n& @gptbot tell me about dogs\n:wait\n",
        OFFLINE_MODEL_DELAY="0.05",
    )
    assert out.count("Not enough tokens") == 1
    assert out.count("Offline model:") == 1
    user = data(tmp_path)["100"]
    assert isinstance(user["balance"], int)
    assert 0 <= user["balance"] < 400
    assert user["balance"] == 400 - user["tokens"]  # type: ignore[operator]


async def test_seed_data_file_loads_and_keeps_every_user_and_key(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text(
        json.dumps(
            {
                "123456789": {
                    "requests": 0,
                    "tokens": 0,
                    "balance": 777777,
                    "lastdate": "01.01.2021 00:00:00",
                },
                "global": {"requests": 7, "tokens": 70},
                "987654321": {
                    "requests": 7,
                    "tokens": 70,
                    "balance": 30000,
                    "name": "Jöhn",
                    "username": "None",
                    "lastdate": "02-01-2021 10:00:00",
                    "prompt": "You are Marv",
                    "favourite": "tea",
                },
            }
        )
    )
    out = await run(tmp_path, "hi\n", ADMIN_CHAT_ID="123456789")
    assert "Offline model" in out
    users = data(tmp_path)
    assert set(users) == {"global", "123456789", "987654321", "100"}
    john = users["987654321"]
    assert john == {
        "requests": 7,
        "tokens": 70,
        "balance": 30000,
        "name": "Jöhn",
        "username": "None",
        "lastdate": "02.01.2021 10:00:00",  # the older bot's keys and format: it can read it
        "prompt": "You are Marv",
        "favourite": "tea",
    }
    assert users["123456789"]["lastdate"] == "01.01.2021 00:00:00"
    assert users["global"]["requests"] == 8


async def test_corrupt_data_file_stops_the_bot_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"global": {"requests": 1, "tokens": 1}, "5": {"balance": 10,')
    before = path.read_bytes()
    settings = settings_from({}, tmp_path)
    out = io.StringIO()
    status = await run_console(settings, io.StringIO("hello\n"), out)
    assert status == 2
    assert out.getvalue() == ""
    error = capsys.readouterr().err
    assert str(path) in error
    assert "not valid JSON" in error
    assert "a copy was kept at" in error
    assert path.read_bytes() == before


async def test_admin_stop_ends_the_run_and_saves(tmp_path: Path) -> None:
    out = await run(tmp_path, "/stop\n:admin\n/stop\nnever read\n")
    assert "Only the bot's admin can stop it." in out
    assert "Stopping" in out
    assert "never read" not in out


async def test_group_chat_needs_the_bot_addressed(tmp_path: Path) -> None:
    out = await run(tmp_path, ":group\njust talking\n@gptbot now you\n")
    assert out.count("Offline model:") == 1
    assert "You said: «now you»" in out


def run_module(folder: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m entrypoints.console`` in ``folder``, as a user would start it."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.console"],
        input=script,
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )


def test_console_module_runs_with_piped_input(tmp_path: Path) -> None:
    result = run_module(tmp_path, "hello\n/balance\n", OFFLINE_MODEL_DELAY="0")
    assert result.returncode == 0, result.stderr
    assert "You said: «hello»" in result.stdout
    assert "Your balance:" in result.stdout
    assert (tmp_path / "data.json").exists()


def test_malformed_setting_is_a_clear_startup_error(tmp_path: Path) -> None:
    result = run_module(tmp_path, "", REPLY_TOKEN_LIMIT="lots")
    assert result.returncode == 2
    assert "REPLY_TOKEN_LIMIT must be a whole number" in result.stderr


def test_settings_come_from_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STARTING_BALANCE=1234\nOFFLINE_MODEL_DELAY=0\n")
    result = run_module(tmp_path, "/balance\n")
    assert "Your balance: 1 234 tokens." in result.stdout


async def test_a_damaged_thread_file_with_a_cycle_does_not_hang(tmp_path: Path) -> None:
    store = SqliteThreads.open(tmp_path / "data.threads.db")
    await store.add(
        [
            Node("100", "1", Role.USER, "one", "2"),
            Node("100", "2", Role.ASSISTANT, "two", "1"),
            Node("100", "3", Role.ASSISTANT, "dangling", "77"),
        ]
    )
    await store.close()
    out = await run(tmp_path, ">2 around we go\n>3 and here\n")
    assert "I received 3 turn(s): 2 earlier" in out  # the cycle, walked once
    assert "I received 2 turn(s): 1 earlier" in out  # the dangling parent ends the walk


async def test_a_prompt_full_of_markdown_is_kept_as_written(tmp_path: Path) -> None:
    prompt = "**Be** _terse_ `always` [no](links) ```code``` * - # > |"
    out = await run(tmp_path, f"/prompt {prompt}\n/prompt\nhi\n")
    assert f"Your system prompt:\n{prompt}" in out
    assert f"System prompt: «{prompt}»" in out


async def test_the_offline_model_stops_at_the_cap_and_the_bot_says_so(tmp_path: Path) -> None:
    out = await run(tmp_path, "tell me everything\n", REPLY_TOKEN_LIMIT="20", MIN_REPLY_TOKENS="5")
    assert "The answer reached the length limit of 20 tokens" in out
    (tmp_path / "roomy").mkdir()
    roomy = await run(tmp_path / "roomy", "tell me everything\n")
    assert "length limit" not in roomy


async def test_a_stranger_is_refused_until_the_admin_allows_them(tmp_path: Path) -> None:
    out = await run(
        tmp_path,
        ":user 1 Admin\n/start\n:user 300 Stranger\nhello\n",
        ALLOWED_USERS="@friend, 200",
    )
    assert "only the people its admin has let in" in out
    assert "send the admin your id: 300" in out
    assert "Offline model" not in out  # no model call
    assert "Asked to use the bot (not on the access list): Stranger (300)" in out
    assert "300" not in data(tmp_path)  # no account
    out = await run(
        tmp_path,
        ":user 1 Admin\n/allow 300\n:user 300 Stranger\nhello\n/balance\n",
        ALLOWED_USERS="@friend, 200",
    )
    assert "300 may use the bot." in out
    assert "Offline model: I received 1 turn(s)" in out
    assert data(tmp_path)["300"]["requests"] == 1
    assert data(tmp_path)["global"]["access"] == {
        "users": ["200", "300", "@friend"],
        "chats": [],
        "seeded_users": ["200", "@friend"],
        "seeded_chats": [],
    }


async def test_an_allowance_refills_a_console_user(tmp_path: Path) -> None:
    write_balance(tmp_path, 5)
    out = await run(tmp_path, "/balance\n", ALLOWANCE="20000", ALLOWANCE_PERIOD="day")
    assert "Your balance: 20 000 tokens.\nRefills to 20 000 on " in out
    assert data(tmp_path)["100"]["balance"] == 20_000


async def test_the_console_addresses_the_bot_as_telegram_does(tmp_path: Path) -> None:
    out = await run(
        tmp_path,
        "/balance@gptbot\n"  # the bot's command, named: a command, not a question to the model
        "/balance@otherbot\n"  # another bot's, even in a private chat
        "/weather\n"  # bare and unknown in a private chat: only this bot can be meant
        ":group\n"
        "/balance@otherbot\n"
        "/weather\n"  # bare and unknown in a group: another bot's, left alone
        "/balance@GPTBOT\n"
        "hey @gptbot, tell me\n",
    )
    assert out.count("Your balance: 30 000 tokens.") == 2
    assert out.count("Unknown command /weather") == 1
    assert "You said: «hey, tell me»" in out
    assert out.count("Offline model:") == 1
    assert data(tmp_path)["100"]["requests"] == 1  # only the question was answered and charged


async def test_speaking_as_a_user_again_keeps_their_name_and_language(tmp_path: Path) -> None:
    out = await run(
        tmp_path,
        ":lang ru\n:user 200 Bob\n:user 100\n/start\n:user 200\n/start\n:user 300\n/balance\n",
    )
    assert "Speaking as You (100)" in out.split(":user 100")[-1]
    assert "Здравствуйте, You!" in out
    assert "User 100" not in out
    assert "Bob!" in out  # named once, Bob stays Bob
    assert "Ваш баланс" in out.split("Speaking as user 300")[-1]  # the console's language
    assert data(tmp_path)["100"]["name"] == "You"


async def test_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    out = await run(tmp_path, "red \x1b[31malert\x1b[0m\rover\n")
    assert "\x1b" not in out
    assert "\r" not in out
    assert "red \\x1b[31malert\\x1b[0m\\rover" in out


@contextlib.contextmanager
def interrupted_console(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """The console as a process on pipes, killed at the end if it is still running."""
    with subprocess.Popen(
        [sys.executable, "-m", "entrypoints.console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OFFLINE_MODEL_DELAY": "0.02"},
    ) as console:
        try:
            yield console
        finally:
            console.kill()  # nothing, when it ended as it should


def read_until(console: subprocess.Popen[str], marker: str) -> str:
    assert console.stdout is not None
    seen = ""
    while marker not in seen:
        piece = console.stdout.read(1)
        assert piece, f"the console ended before printing {marker!r}: {seen!r}"
        seen += piece
    return seen


def test_ctrl_c_at_the_prompt_ends_like_ctrl_d(tmp_path: Path) -> None:
    with interrupted_console(tmp_path) as console:
        assert console.stdin is not None
        console.stdin.write("hello\n")
        console.stdin.flush()
        read_until(console, "Tokens used")
        read_until(console, "\n")
        console.send_signal(signal.SIGINT)  # the console waits for the next line
        _, err = console.communicate(timeout=60)
    assert console.returncode == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert data(tmp_path)["100"]["requests"] == 1


def test_ctrl_c_mid_answer_finishes_and_charges_it_once(tmp_path: Path) -> None:
    with interrupted_console(tmp_path) as console:
        assert console.stdin is not None
        console.stdin.write("tell me a long story about everything\n")
        console.stdin.flush()
        seen = read_until(console, "Offline model:")  # the answer is streaming
        console.send_signal(signal.SIGINT)
        console.send_signal(signal.SIGINT)  # pressed twice: still no traceback
        out, err = console.communicate(timeout=60)
    seen += out
    assert console.returncode == 0, err
    assert "Traceback" not in err
    assert "Ctrl-C: stopping once the answers in flight are finished" in seen
    footer = re.search(r"Tokens used: ≈(\d+)", seen)
    assert footer is not None, seen  # the answer was finished, footer and all
    user = data(tmp_path)["100"]
    assert user["requests"] == 1
    assert user["tokens"] == int(footer.group(1))
    assert user["balance"] == 30_000 - int(footer.group(1))


def test_ctrl_c_at_a_terminal_gives_the_terminal_back(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    before = termios.tcgetattr(secondary)
    with subprocess.Popen(
        [sys.executable, "-m", "entrypoints.console"],
        stdin=secondary,
        stdout=secondary,  # a terminal on both sides: input() edits lines with readline
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    ) as console:
        try:
            os.write(primary, b"hello\n")
            shown = b""
            while b"Tokens used" not in shown:
                shown += os.read(primary, 1)
            while not shown.endswith(b"> "):  # back at the prompt, reading with line editing
                shown += os.read(primary, 1)
            console.send_signal(signal.SIGINT)
            _, err = console.communicate(timeout=60)
            after = termios.tcgetattr(secondary)
        finally:
            console.kill()  # nothing, when it ended as it should
            os.close(primary)
            os.close(secondary)
    assert console.returncode == 0, err
    assert "Traceback" not in err
    assert after == before  # echo and line mode back, as the shell expects them
    assert data(tmp_path)["100"]["requests"] == 1


async def test_search_on_is_refused_plainly_where_the_model_has_no_web_search(
    tmp_path: Path,
) -> None:
    out = await run(tmp_path, "/search on\n/search\nhello\n")
    assert "Web search is not available with offline" in out
    assert "Web search is off. /search on turns it on." in out
    assert "You said: «hello»" in out  # answering goes on as before
    assert "search" not in data(tmp_path)["100"]


async def test_mode_switches_the_system_prompt_and_retry_answers_again(tmp_path: Path) -> None:
    out = await run(tmp_path, "/mode\n/mode coder\nwrite a loop\n/retry\n/balance\n")
    assert "• assistant — a helpful assistant (the default) (yours)" in out
    assert "• translator — translates English ↔ Russian" in out
    assert "Your mode is now coder." in out
    assert out.count("System prompt: «You are an experienced software engineer.") == 2
    assert out.count("You said: «write a loop»") == 2
    [question] = re.findall(r"^\[(\d+)\] You \(100\): write a loop$", out, re.MULTILINE)
    assert f"bot → user 100 ↪ {question}: Offline model" in out  # the retry replies to it
    assert "Mode: coder." in out
    # Two answers, two charges, each shown and each in the balance.
    shown = [int(n) for n in re.findall(r"Tokens used: ≈(\d+)", out)]
    user = data(tmp_path)["100"]
    assert (user["requests"], user["tokens"]) == (2, sum(shown))
    assert user["balance"] == 30_000 - sum(shown)
    assert user["mode"] == "coder"  # kept in data.json

    # After a restart the last message is forgotten, and the bot says so.
    out = await run(tmp_path, "/retry\n/mode off\nhi\n")
    assert "There is no message of yours here to answer again" in out
    assert "System prompt: «You are a helpful assistant»" in out
    assert "mode" not in data(tmp_path)["100"]
