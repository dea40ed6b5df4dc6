"""Every user-facing text, in English and Russian.

The language is the user's own when the platform tells it, else the configured default.
"""

from __future__ import annotations

from typing import Final

EN: Final = {
    "commands": (
        "/start - welcome and your balance\n"
        "/help - how to use the bot\n"
        "/balance - tokens you have left\n"
        "/stats - your usage\n"
        "/prompt - show or change your system prompt"
    ),
    "welcome": (
        "Hello, {name}! I answer with a language model.\n"
        "Write me anything. Reply to my answer to continue the conversation; a message that "
        "replies to nothing starts a new one.\n"
        "Your balance: {balance} tokens.\n\n{commands}"
    ),
    "help": (
        "Write a message and I answer it. To continue a conversation, reply to my answer: the "
        "whole reply chain is sent to the model. A message that replies to nothing starts a new "
        "conversation. In groups, mention me, reply to me or use a command.\n"
        "Each answer costs tokens from your balance (prompt and answer together).\n\n{commands}"
    ),
    "balance": "Your balance: {balance} tokens.",
    "balance_admin": "Your balance: {balance} tokens (admin: it is never charged).",
    "stats": (
        "Your requests: {requests}\nTokens used: {tokens}\nBalance: {balance}\nLast request: {last}"
    ),
    "stats_global": "\n\nAll users: {users}\nAll requests: {requests}\nAll tokens: {tokens}",
    "never": "never",
    "prompt_own": (
        "Your system prompt:\n{prompt}\n\n"
        "Change it: /prompt <text>\nBack to the default: /prompt reset"
    ),
    "prompt_default": (
        "You use the default system prompt:\n{prompt}\n\n"
        "Set your own: /prompt <text> (up to {limit} characters)"
    ),
    "prompt_set": "Your system prompt is set. It applies to your next messages.",
    "prompt_reset": "Your system prompt is back to the default:\n{prompt}",
    "prompt_too_long": (
        "This prompt is {length} characters long; the limit is {limit}. Nothing was changed."
    ),
    "stop_admin_only": "Only the bot's admin can stop it.",
    "admin_only": "Only the bot's admin can do that.",
    "topup_usage": (
        "Usage: /topup <user id> <tokens>, for example /topup 123456789 10000. The tokens are "
        "added to the user's balance."
    ),
    "topup_unknown": (
        "User {user} has not written to the bot yet, so there is no balance to top up."
    ),
    "topup_done": "{who} now has {balance} tokens.",
    "stopping": "Stopping: finishing the answers in flight, saving, and shutting down.",
    "shutting_down": "The bot is shutting down. Please try again later.",
    "unknown_command": "Unknown command {command}. See /help.",
    "empty_message": "Send me some text and I will answer it.",
    "not_text": "I can only read text for now. Please write your question in words.",
    "menu_start": "Welcome and your balance",
    "menu_help": "How to use the bot",
    "menu_balance": "Tokens you have left",
    "menu_stats": "Your usage",
    "menu_prompt": "Show or change your system prompt",
    "too_long": (
        "Your message is too long: with your system prompt it is about {tokens} tokens and the "
        "limit is {budget}. Please shorten it or split it. Nothing was charged."
    ),
    "no_balance": (
        "Not enough tokens: you have {available} available, and even a short answer to this "
        "message needs about {needed}. Nothing was charged. To get more, ask the bot's admin "
        "and give them your id: {user}."
    ),
    "footer": "\n\nTokens used: {tokens}",
    "cut_off": (
        "\n\n(The answer reached the length limit of {limit} tokens. Reply to this message "
        "with “continue” for the rest.)"
    ),
    "cut_off_balance": (
        "\n\n(The answer stopped at {limit} tokens, as much as your balance allowed. Reply to "
        "this message with “continue” for the rest.)"
    ),
    "empty_answer": "The model returned an empty answer.",
    "err_rate_limited": (
        "The model provider is overloaded with requests right now. Please try again in a "
        "minute. Nothing was charged."
    ),
    "err_unavailable": (
        "The model provider had an error. Please try again later. Nothing was charged."
    ),
    "err_auth": (
        "The bot cannot reach the model: its API key was rejected. The admin has been told. "
        "Nothing was charged."
    ),
    "err_timeout": "The model took too long to answer. Please try again. Nothing was charged.",
    "err_connection": (
        "The connection to the model was lost. Please try again. Nothing was charged."
    ),
    "err_context": (
        "This conversation is too long for the model even after dropping older messages. "
        "Start a new one (send a message that replies to nothing). Nothing was charged."
    ),
    "err_filtered": (
        "The model provider's content filter refused this request. Nothing was charged."
    ),
    "err_truncated": (
        "The model's answer was cut off before it was complete. Please try again. "
        "Nothing was charged."
    ),
    "err_storage": (
        "The bot could not save your data, so the request was not completed. The admin has "
        "been told. Nothing was charged."
    ),
    "err_other": "Something went wrong with the model. Please try again. Nothing was charged.",
    "admin_new_user": "New user: {who}",
    "admin_started": "The bot is running as @{bot}, answering with the {model}.",
    "admin_request": "{who}: {tokens} tokens\n{text}",
    "admin_auth": "The model provider rejected the API key: {detail}",
    "admin_storage": "Saving data failed: {detail}",
}

RU: Final = {
    "commands": (
        "/start - приветствие и ваш баланс\n"
        "/help - как пользоваться ботом\n"
        "/balance - сколько токенов осталось\n"
        "/stats - ваша статистика\n"
        "/prompt - показать или изменить системный промпт"
    ),
    "welcome": (
        "Здравствуйте, {name}! Я отвечаю с помощью языковой модели.\n"
        "Напишите мне что угодно. Ответьте на мой ответ, чтобы продолжить разговор; сообщение, "
        "которое ни на что не отвечает, начинает новый.\n"
        "Ваш баланс: {balance} токенов.\n\n{commands}"
    ),
    "help": (
        "Напишите сообщение, и я на него отвечу. Чтобы продолжить разговор, ответьте на мой "
        "ответ: вся цепочка ответов уйдёт модели. Сообщение, которое ни на что не отвечает, "
        "начинает новый разговор. В группах упомяните меня, ответьте мне или используйте "
        "команду.\n"
        "Каждый ответ стоит токенов с вашего баланса (запрос и ответ вместе).\n\n{commands}"
    ),
    "balance": "Ваш баланс: {balance} токенов.",
    "balance_admin": "Ваш баланс: {balance} токенов (администратор: он не списывается).",
    "stats": (
        "Ваших запросов: {requests}\nИзрасходовано токенов: {tokens}\nБаланс: {balance}\n"
        "Последний запрос: {last}"
    ),
    "stats_global": (
        "\n\nВсего пользователей: {users}\nВсего запросов: {requests}\nВсего токенов: {tokens}"
    ),
    "never": "ещё не было",
    "prompt_own": (
        "Ваш системный промпт:\n{prompt}\n\n"
        "Изменить: /prompt <текст>\nВернуть стандартный: /prompt reset"
    ),
    "prompt_default": (
        "У вас стандартный системный промпт:\n{prompt}\n\n"
        "Задать свой: /prompt <текст> (до {limit} символов)"
    ),
    "prompt_set": "Системный промпт задан. Он действует для следующих сообщений.",
    "prompt_reset": "Системный промпт снова стандартный:\n{prompt}",
    "prompt_too_long": (
        "В этом промпте {length} символов, а можно не больше {limit}. Ничего не изменено."
    ),
    "stop_admin_only": "Остановить бота может только администратор.",
    "admin_only": "Это может только администратор бота.",
    "topup_usage": (
        "Как пополнить: /topup <id пользователя> <токены>, например /topup 123456789 10000. "
        "Токены добавляются к балансу пользователя."
    ),
    "topup_unknown": "Пользователь {user} ещё не писал боту, пополнять нечего.",
    "topup_done": "Теперь у {who} {balance} токенов.",
    "stopping": "Останавливаюсь: дописываю начатые ответы, сохраняю данные и выключаюсь.",
    "shutting_down": "Бот выключается. Попробуйте позже.",
    "unknown_command": "Неизвестная команда {command}. Смотрите /help.",
    "empty_message": "Пришлите мне текст, и я на него отвечу.",
    "not_text": "Пока я понимаю только текст. Напишите, пожалуйста, вопрос словами.",
    "menu_start": "Приветствие и ваш баланс",
    "menu_help": "Как пользоваться ботом",
    "menu_balance": "Сколько токенов осталось",
    "menu_stats": "Ваша статистика",
    "menu_prompt": "Показать или изменить системный промпт",
    "too_long": (
        "Сообщение слишком длинное: вместе с системным промптом это около {tokens} токенов, а "
        "предел {budget}. Сократите его или разделите. Ничего не списано."
    ),
    "no_balance": (
        "Недостаточно токенов: доступно {available}, а даже короткий ответ на это сообщение "
        "требует около {needed}. Ничего не списано. Чтобы получить ещё, напишите администратору "
        "бота и назовите свой id: {user}."
    ),
    "footer": "\n\nИзрасходовано токенов: {tokens}",
    "cut_off": (
        "\n\n(Ответ упёрся в предел длины: {limit} токенов. Ответьте на это сообщение "
        "«продолжай», чтобы получить остальное.)"
    ),
    "cut_off_balance": (
        "\n\n(Ответ остановлен на {limit} токенах: на большее не хватило баланса. Ответьте "
        "на это сообщение «продолжай», чтобы получить остальное.)"
    ),
    "empty_answer": "Модель вернула пустой ответ.",
    "err_rate_limited": (
        "Сервис модели сейчас перегружен запросами. Попробуйте через минуту. Ничего не списано."
    ),
    "err_unavailable": "В сервисе модели произошла ошибка. Попробуйте позже. Ничего не списано.",
    "err_auth": (
        "Бот не может обратиться к модели: его API-ключ отклонён. Администратору сообщено. "
        "Ничего не списано."
    ),
    "err_timeout": "Модель слишком долго отвечала. Попробуйте ещё раз. Ничего не списано.",
    "err_connection": "Связь с моделью прервалась. Попробуйте ещё раз. Ничего не списано.",
    "err_context": (
        "Разговор слишком длинный для модели даже без старых сообщений. Начните новый "
        "(сообщением, которое ни на что не отвечает). Ничего не списано."
    ),
    "err_filtered": "Фильтр содержимого сервиса модели отклонил этот запрос. Ничего не списано.",
    "err_truncated": (
        "Ответ модели оборвался, не закончившись. Попробуйте ещё раз. Ничего не списано."
    ),
    "err_storage": (
        "Бот не смог сохранить данные, поэтому запрос не выполнен. Администратору сообщено. "
        "Ничего не списано."
    ),
    "err_other": "Что-то пошло не так с моделью. Попробуйте ещё раз. Ничего не списано.",
    "admin_new_user": "Новый пользователь: {who}",
    "admin_started": "Бот запущен как @{bot}, отвечает {model}.",
    "admin_request": "{who}: {tokens} токенов\n{text}",
    "admin_auth": "Сервис модели отклонил API-ключ: {detail}",
    "admin_storage": "Не удалось сохранить данные: {detail}",
}

LANGUAGES: Final = {"en": EN, "ru": RU}


def choose_language(platform_language: str | None, default: str) -> str:
    """The language for a user: Russian or English from the platform's code, else the default."""
    if platform_language:
        code = platform_language.split("-")[0].lower()
        return "ru" if code == "ru" else "en"
    return default if default in LANGUAGES else "en"


def text(language: str, key: str, **values: object) -> str:
    """The text ``key`` in ``language``, with ``values`` filled in."""
    return LANGUAGES.get(language, EN)[key].format(**values)


def number(value: int) -> str:
    """A number with thin groups for reading: 30 000."""
    return f"{value:,}".replace(",", " ")


MENU_COMMANDS: Final = ("start", "help", "balance", "stats", "prompt")


def command_menu(language: str) -> list[tuple[str, str]]:
    """The commands a messenger should offer in its menu, with descriptions, in ``language``."""
    return [(name, text(language, f"menu_{name}")) for name in MENU_COMMANDS]


_FOOTERS: Final = tuple(language["footer"].split("{", 1)[0] for language in LANGUAGES.values())
# Each note as (what comes before the number, what comes after it).
_NOTES: Final = tuple(
    tuple(language[key].split("{limit}", 1))
    for language in LANGUAGES.values()
    for key in ("cut_off", "cut_off_balance")
)


def without_footer(answer: str) -> str:
    """An answer as the model wrote it: the token footer and the note on a cut-off answer
    that the bot added, if any, removed."""
    for footer in _FOOTERS:
        start = answer.rfind(footer)
        if start != -1 and answer[start + len(footer) :].replace(" ", "").isdigit():
            answer = answer[:start]
            break
    for before, after in _NOTES:
        start = answer.rfind(before)
        if (
            start != -1
            and answer.endswith(after)
            and answer[start + len(before) : len(answer) - len(after)].replace(" ", "").isdigit()
        ):
            return answer[:start]
    return answer


def close_code_block(markdown: str) -> str:
    """``markdown`` with a code block left open (an answer cut at its cap) closed, so that what
    follows is not shown as code."""
    fences = sum(1 for line in markdown.splitlines() if line.lstrip().startswith("```"))
    return markdown + "\n```" if fences % 2 else markdown
