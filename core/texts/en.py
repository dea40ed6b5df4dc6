"""English texts. ``{x:n}`` shows a number in groups (30 000), ``{x:t}`` one to the tenth
(2.7); ``{x:p:token|tokens}`` chooses the form of a word for the number ``x``; ``{told}`` is
" The admin has been told." where the admin can be told, else nothing."""

from __future__ import annotations

from typing import Final


def plural(count: int) -> int:
    """Which form of ``token|tokens`` goes with ``count``."""
    return 0 if abs(count) == 1 else 1


# The way numbers with a fraction are written: 2.7 s.
DECIMAL_POINT: Final = "."

TEXTS: Final = {
    "welcome": (
        "Hello, {name}! I answer with a language model.\n"
        "Write me anything. Reply to my answer to continue the conversation; a message that "
        "replies to nothing starts a new one.\n"
        "Your balance: {balance:n} {balance:p:token|tokens}.\n\n{commands}"
    ),
    "help": (
        "Write a message and I answer it. To continue a conversation, reply to my answer: the "
        "whole reply chain is sent to the model. A message that replies to nothing starts a new "
        "conversation.\n"
        "Each answer costs tokens from your balance (prompt and answer together). You may also "
        "send a voice message, a picture or a file, where the admin has set that up.\n\n"
        "{commands}"
    ),
    "admin_commands_title": "Admin commands:",
    "cmd_start": "welcome and your balance",
    "cmd_help": "how to use the bot",
    "cmd_balance": "tokens you have left",
    "cmd_stats": "your usage",
    "cmd_prompt": "show or change your system prompt",
    "cmd_topup": "<user id> <tokens>: add tokens to a balance (negative: take away)",
    "cmd_ban": "<user id>: refuse a user's requests",
    "cmd_unban": "<user id>: serve a refused user again",
    "cmd_stop": "finish the answers in flight, save and stop the bot",
    "balance": "Your balance: {balance:n} {balance:p:token|tokens}.",
    "balance_held": (
        "Your balance: {balance:n} {balance:p:token|tokens}, of which {held:n} "
        "{held:p:is|are} held for answers being written."
    ),
    "balance_admin": (
        "Your balance: {balance:n} {balance:p:token|tokens} (admin: it is never charged)."
    ),
    "stats": (
        "Your requests: {requests:n}\nTokens used: {tokens:n}\nBalance: {balance:n}\n"
        "Last request: {last}"
    ),
    "stats_global": "\n\nAll users: {users:n}\nAll requests: {requests:n}\nAll tokens: {tokens:n}",
    "stats_global_private": "The totals over all users are in your private chat with the bot.",
    "never": "never",
    "prompt_own": (
        "Your system prompt:\n{prompt}\n\n"
        "Change it: /prompt <text>\nBack to the default: /prompt reset"
    ),
    "prompt_default": (
        "You use the default system prompt:\n{prompt}\n\n"
        "Set your own: /prompt <text> (up to {limit:n} characters)"
    ),
    "prompt_set": "Your system prompt is set. It applies to your next messages.",
    "prompt_reset": "Your system prompt is back to the default:\n{prompt}",
    "prompt_too_long": (
        "This prompt is {length:n} characters long; the limit is {limit:n}. Nothing was changed."
    ),
    "stop_admin_only": "Only the bot's admin can stop it.",
    "admin_only": "Only the bot's admin can do that.",
    "topup_usage": (
        "Usage: /topup <user id> <tokens>, for example /topup 123456789 10000. The tokens are "
        "added to the user's balance; a negative number takes them away (never below zero)."
    ),
    "unknown_user": "User {user} has not written to the bot yet.",
    "topup_done": "{who} now has {balance:n} {balance:p:token|tokens}.",
    "topup_done_private": "Done: the new balance is in your private chat with the bot.",
    "ban_usage": "Usage: /ban <user id> or /unban <user id>.",
    "ban_done": "{who} is refused from now on.",
    "unban_done": "{who} is served again.",
    "banned": "The bot's admin has closed this bot to you.",
    "stopping": "Stopping: finishing the answers in flight, saving, and shutting down.",
    "shutting_down": (
        "The bot is shutting down and cannot answer now. Please try again in a minute. "
        "Nothing was charged."
    ),
    "unknown_command": "Unknown command {command}. See /help.",
    # Said by a messenger adapter to a message it cannot hand to the core.
    "message_unsupported": (
        "I can't use this kind of message (stickers, videos, polls and the like). "
        "I understand text, voice messages, pictures and text files."
    ),
    "encrypted_room": (
        "I cannot read end-to-end encrypted rooms. Please start a room without encryption "
        "(in Element: turn off “Enable end-to-end encryption” when creating it) and invite me "
        "there."
    ),
    "anonymous_sender": (
        "I can't answer messages sent on behalf of a group or a channel: answers are paid "
        "from a person's token balance. Please write as yourself."
    ),
    "empty_message": "Send me some text and I will answer it.",
    "too_long": (
        "Your message is too long: with your system prompt it is about {tokens:n} tokens and "
        "the limit is {budget:n}. Please shorten it or split it. Nothing was charged."
    ),
    "no_balance": (
        "Not enough tokens: you have {available:n} available, and even a short answer to this "
        "message needs about {needed:n}. Nothing was charged. To get more, ask the bot's admin "
        "and give them your id: {user}."
    ),
    "footer": "\n\nTokens used: {tokens:n}",
    "footer_estimated": "\n\nTokens used: ≈{tokens:n} (estimated: the model did not report it)",
    # When the balance pays another number than the model used: a price, a free model, a cap.
    "footer_charged": "\n\nTokens used: {tokens:n} · charged: {charged:n}",
    "footer_charged_estimated": (
        "\n\nTokens used: ≈{tokens:n} · charged: {charged:n} (estimated: the model did not "
        "report it)"
    ),
    # When part of the prompt came from the provider's cache, which costs less.
    "footer_cached": "\n\nTokens used: {tokens:n} ({cached:n} cached)",
    "footer_charged_cached": (
        "\n\nTokens used: {tokens:n} ({cached:n} cached) · charged: {charged:n}"
    ),
    "footer_searches": " · web searches: {n}",
    "sources": "\n\nSources:\n{links}",
    "admin_told": " The admin has been told.",
    "not_charged_storage": ("\n\n(Not charged: the bot cannot save its data right now.{told})"),
    "cut_off": (
        "\n\n(The answer reached the length limit of {limit:n} tokens. Reply to this message "
        "with “continue” for the rest.)"
    ),
    "cut_off_balance": (
        "\n\n(The answer stopped at {limit:n} tokens, as much as your balance allowed. Reply to "
        "this message with “continue” for the rest.)"
    ),
    "stopped": "\n\n(Stopped at your request.)",
    "dropped": (
        "\n\n(The oldest messages of this conversation were left out: all of it does not fit "
        "what the model reads at once.)"
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
        "The bot cannot reach the model: its API key was rejected.{told} Nothing was charged."
    ),
    "err_misconfigured": (
        "The bot's model settings are wrong, so it cannot answer until the admin fixes them."
        "{told} Nothing was charged."
    ),
    "err_auth_voice": (
        "The transcription service rejected the bot's API key.{told} Nothing was charged."
    ),
    "err_misconfigured_voice": (
        "The bot's transcription settings are wrong, so it cannot transcribe until the admin "
        "fixes them.{told} Nothing was charged."
    ),
    "err_auth_image": "The picture service rejected the bot's API key.{told} Nothing was charged.",
    "err_misconfigured_image": (
        "The bot's picture settings are wrong, so it cannot draw until the admin fixes them."
        "{told} Nothing was charged."
    ),
    "err_auth_speech": "The speech service rejected the bot's API key.{told} Nothing was charged.",
    "err_misconfigured_speech": (
        "The bot's speech settings are wrong, so it cannot read answers aloud until the admin "
        "fixes them.{told} Nothing was charged."
    ),
    "err_timeout": "The model took too long to answer. Please try again. Nothing was charged.",
    "err_connection": (
        "The connection to the model was lost. Please try again. Nothing was charged."
    ),
    "err_context": (
        "This conversation is too long for the model even after dropping older messages. "
        "Start a new one (send a message that replies to nothing). Nothing was charged."
    ),
    "err_context_single": (
        "Your message is too long for the model. Please shorten it or split it. "
        "Nothing was charged."
    ),
    "err_filtered": (
        "The model provider's content filter refused this request. Nothing was charged."
    ),
    "err_truncated": (
        "The model's answer was cut off before it was complete. Please try again. "
        "Nothing was charged."
    ),
    "err_storage": (
        "The bot could not save your data, so the request was not completed.{told} Nothing "
        "was changed and nothing was charged."
    ),
    "err_other": "Something went wrong. Please try again. Nothing was charged.",
    "admin_started": "The bot is running as {bot}, answering with the {model}.",
    "admin_new_user": "New user: {who}",
    "admin_new_users": "{count:n} new users: {who}",
    "admin_more": "… and {count:n} more",
    "admin_request": "{who}: {tokens:n} tokens\n{text}",
    "admin_auth_answers": (
        "Answers fail: the model provider rejected the API key: {detail}\n"
        "Check OPENAI_API_KEY (or the model's key in MODELS)."
    ),
    "admin_misconfigured_answers": (
        "Answers fail: the model provider refuses the bot's requests: {detail}\n"
        "Check OPENAI_MODEL and OPENAI_BASE_URL (or the model's entry in MODELS)."
    ),
    "admin_auth_voice": (
        "Voice messages fail: the transcription service rejected the API key: {detail}\n"
        "Check TRANSCRIPTION_API_KEY (or OPENAI_API_KEY)."
    ),
    "admin_misconfigured_voice": (
        "Voice messages fail: the transcription service refuses the bot's requests: {detail}\n"
        "Check TRANSCRIPTION_MODEL and TRANSCRIPTION_BASE_URL."
    ),
    "admin_auth_image": (
        "/image fails: the picture service rejected the API key: {detail}\nCheck OPENAI_API_KEY."
    ),
    "admin_misconfigured_image": (
        "/image fails: the picture service refuses the bot's requests: {detail}\n"
        "Check IMAGE_MODEL, IMAGE_SIZE and OPENAI_BASE_URL."
    ),
    "admin_auth_speech": (
        "Voice notes fail: the speech service rejected the API key: {detail}\n"
        "Check TTS_API_KEY (or OPENAI_API_KEY)."
    ),
    "admin_misconfigured_speech": (
        "Voice notes fail: the speech service refuses the bot's requests: {detail}\n"
        "Check TTS_MODEL, TTS_VOICE and TTS_BASE_URL."
    ),
    "admin_repeated": "\n(And {count:n} more like it since {since}.)",
    "admin_storage": "Saving data failed: {detail}",
    "admin_hold_stuck": (
        "{tokens:n} tokens held for user {user} could not be given back ({detail}). The bot "
        "keeps trying; at the latest they are free when the hold's lease ends."
    ),
    "admin_not_delivered": "An answer to {who} could not be delivered, so it was not charged.",
    "cmd_model": "show the models and their prices, or choose one: /model <name>",
    "cmd_image": "<description>: draw a picture",
    "cmd_search": "on|off: let answers search the web and cite their sources",
    "search_on": (
        "Web search is on: {model} may search the web for your messages and lists the pages it "
        "used. Each search costs {price:n} tokens. /search off turns it off."
    ),
    "search_off": "Web search is off: answers come from the model alone.",
    "search_state_on": "Web search is on. /search off turns it off.",
    "search_state_off": "Web search is off. /search on turns it on.",
    "search_unavailable": (
        "Web search is not available with {model}: its server does not offer it. Use /model to "
        "see the models."
    ),
    "models": (
        "Models (the price is how many of your tokens one token of the model costs):\n{models}\n\n"
        "Choose one: /model <name>"
    ),
    "model_line": "• {model} — ×{price}",
    "model_line_current": "• {model} — ×{price} (yours)",
    "model_sees": ", sees pictures",
    "model_unknown": "There is no model called “{name}”. The models:\n{models}",
    "model_set": "Your model is now {model}. It answers your next messages.",
    "no_vision": (
        "The model {model} cannot see pictures. Use /model to switch to one that can. "
        "Nothing was charged."
    ),
    "images_off": "This bot does not draw pictures (the admin has not set it up).",
    "image_usage": (
        "Describe the picture after the command: /image a lighthouse at dawn, watercolour.\n"
        "A picture costs {price:n} {price:p:token|tokens}."
    ),
    "no_balance_image": (
        "Not enough tokens: a picture costs {needed:n} and you have {available:n} available. "
        "Nothing was charged."
    ),
    "image_failed": "The picture could not be made. {reason}",
    "image_caption": "{prompt}\n\nTokens used: {tokens:n}",
    "image_caption_unpaid": (
        "{prompt}\n\n(Not charged: the bot cannot save its data right now.{told})"
    ),
    "cmd_voice": "on|off: also send my answers as voice notes",
    "speech_on": (
        "From now on I also send my answers as voice notes, after the text. Reading aloud costs "
        "{price:t} {price:p:token|tokens} per character (answers are read up to {limit:n} "
        "characters). Turn it off with /voice off."
    ),
    "speech_off": "Voice notes are off: I answer in text only.",
    "speech_state_on": (
        "Your answers also come as voice notes ({price:t} {price:p:token|tokens} per character "
        "read aloud). Turn them off with /voice off."
    ),
    "speech_state_off": (
        "Your answers come as text only. /voice on also sends them as voice notes, for "
        "{price:t} {price:p:token|tokens} per character read aloud."
    ),
    "speech_usage": "Use /voice on or /voice off.",
    "speech_unavailable": "This bot cannot send answers as voice notes here.",
    "no_balance_speech": (
        "The answer was not read aloud: that costs {needed:n} tokens and you have {available:n} "
        "available. Nothing was charged for it."
    ),
    "speech_failed": "The answer could not be read aloud. {reason}",
    "speech_caption": "🔊 Tokens used: {tokens:n}",
    "speech_caption_free": "🔊",
    "speech_caption_unpaid": "🔊 (Not charged: the bot cannot save its data right now.{told})",
    "speech_cut": "\n(Read aloud up to the limit: the first {spoken:n} of {total:n} characters.)",
    "media_off": "I can only read text here.",
    "media_unavailable": (
        "I could not download your file from the chat. Please send it again. Nothing was charged."
    ),
    "voice_off": (
        "This bot does not transcribe voice messages (the admin has not set it up). Please write "
        "your message instead."
    ),
    "voice_too_long": (
        "Your recording is {seconds:n} seconds long; the limit is {limit:n}. Please send a "
        "shorter one. Nothing was charged."
    ),
    "voice_too_large": (
        "Your recording is larger than {megabytes} MB, the most I can transcribe. Nothing was "
        "charged."
    ),
    "no_balance_voice": (
        "Not enough tokens: transcribing this recording costs about {needed:n} and you have "
        "{available:n} available. Nothing was charged."
    ),
    "voice_empty": "I could not hear any words in your recording. Nothing was charged.",
    "voice_unreadable": (
        "Your file does not seem to be a sound recording I can measure and transcribe (I take "
        "voice messages and Ogg/Opus, MP3, M4A, WAV or FLAC files). Nothing was charged."
    ),
    "voice_failed": "Your recording could not be transcribed. {reason}",
    "voice_heard": "🎤 “{text}”\n({seconds:t} s, {tokens:n} {tokens:p:token|tokens})",
    "voice_heard_estimated": (
        "🎤 “{text}”\n(about {seconds:t} s, ≈{tokens:n} {tokens:p:token|tokens}: the length is "
        "estimated from the file's size)"
    ),
    "voice_heard_free": "🎤 “{text}”",
    "voice_heard_unpaid": (
        "🎤 “{text}”\n(Not charged: the bot cannot save its data right now.{told})"
    ),
    "picture_too_large": (
        "Your picture is larger than {megabytes} MB, the most I accept. Nothing was charged."
    ),
    "picture_unreadable": (
        "Your file does not seem to be a picture I can show the model (I take PNG, JPEG, WebP "
        "and GIF pictures). Nothing was charged."
    ),
    "files_off": "This bot does not read files. Please paste the text instead.",
    "file_too_large": (
        "Your file is larger than {megabytes} MB, the most I read. Please send a part of it. "
        "Nothing was charged."
    ),
    "file_unsupported": (
        "I cannot read {name}: I read text files (.txt, .md, code, .csv, .json…) and PDF. "
        "Nothing was charged."
    ),
    "file_not_text": (
        "{name} does not contain text I can read (it looks like a binary file). Nothing was "
        "charged."
    ),
    "file_damaged": "{name} seems damaged: I could not open it. Nothing was charged.",
    "file_empty": (
        "I found no text in {name} (a scanned PDF holds pictures of pages, not text). Nothing was "
        "charged."
    ),
    "file_protected": (
        "{name} is protected by a password, so I cannot read it. Send a copy without the "
        "password. Nothing was charged."
    ),
    "file_too_complex": (
        "{name} takes more time or memory to read than I allow for one file, so I did not read "
        "it. Nothing was charged."
    ),
    "file_busy": (
        "I am reading too many files right now. Please send {name} again in a minute. Nothing "
        "was charged."
    ),
    # Access and allowances (core.access, core.allowances).
    "cmd_allow": "<id or username>: let a person use the bot (in a group, alone: the group)",
    "cmd_disallow": "<id or username>: take a person or a chat off the access list",
    "cmd_users": "[page]: the users, their balances and last requests",
    "cmd_allowance": "<id or username> <tokens | default>: a person's own allowance",
    "stranger": (
        "Sorry, this bot serves only the people its admin has let in. To ask for access, send "
        "the admin your id: {id}"
    ),
    "admin_stranger": (
        "Asked to use the bot (not on the access list): {who}\nTo let them in: /allow <id>"
    ),
    "admin_strangers": (
        "{count:n} people asked to use the bot (not on the access list): {who}\n"
        "To let one in: /allow <id>"
    ),
    "allow_usage": (
        "Usage: /allow <id or username>, /disallow <id or username>. Sent alone in a group, "
        "/allow lets everyone in that group use the bot, /disallow takes the group off the list."
    ),
    "allow_done": "{entry} may use the bot.",
    "allow_chat_done": "Everyone in this chat may use the bot.",
    "disallow_done": "{entry} is no longer on the access list.",
    "disallow_missing": "{entry} was not on the access list; nothing changed.",
    "access_open": (
        "\n(The bot is open to everyone for now: the access list counts once ALLOWED_USERS or "
        "ALLOWED_CHATS is set.)"
    ),
    "users_page": "Users {first:n}–{last:n} of {count:n}:\n{lines}",
    "users_line": "{who}: {balance:n}, last request {last}",
    "users_next": "\nNext page: /users {page}",
    "users_none": "No users on page {page}.",
    "users_access": "Access list: {entries}",
    "users_private": "The list of users is in your private chat with the bot.",
    "allowance_usage": (
        "Usage: /allowance <id or username> <tokens>, for example /allowance 123456789 20000 "
        "(0: none; default: the bot's setting)."
    ),
    "allowance_done": "{who} gets {tokens:n} tokens each {period} from the next refill on.",
    "allowance_none": "{who} gets no allowance from now on.",
    "period_day": "day",
    "period_week": "week",
    "period_month": "month",
    "balance_refill": "\nRefills to {tokens:n} on {when}.",
    "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    # Modes (core.modes): the commands' words, then each shipped mode's description and prompt.
    "cmd_mode": "show the modes, or switch: /mode <name> (/mode off: the default)",
    "cmd_retry": "answer your last message here again (a new answer, charged anew)",
    "modes": "Modes:\n{modes}\n\nSwitch: /mode <name>; back to the default: /mode off",
    "mode_line": "• {mode} — {about}",
    "mode_line_current": "• {mode} — {about} (yours)",
    "mode_unknown": "There is no mode called “{name}”. The modes:\n{modes}",
    "mode_set": "Your mode is now {mode}. It applies to your next messages.",
    "mode_off": "You are back to the default mode.",
    "mode_model": " It answers with the model {model}.",
    "mode_prompt_cleared": " Your own system prompt was cleared (set one again with /prompt).",
    "balance_mode": "\nMode: {mode}.",
    "balance_mode_own_prompt": "\nMode: {mode}, with your own system prompt instead of its own.",
    "prompt_mode": (
        "You use the system prompt of the mode {mode}:\n{prompt}\n\n"
        "Set your own: /prompt <text> (up to {limit:n} characters)"
    ),
    "retry_nothing": (
        "There is no message of yours here to answer again: I remember only your last one in "
        "this chat since I last started. Please send it again."
    ),
    "retry_not_last": (
        "That is not your last message here any more: /retry answers only your last one."
    ),
    "retry_button": "Try again",
    "mode_assistant_about": "a helpful assistant (the default)",
    "mode_coder_about": "writes and explains code",
    "mode_coder_prompt": (
        "You are an experienced software engineer. Answer with working code and short, precise "
        "explanations. Put code in fenced blocks with the language named. Point out bugs, edge "
        "cases and security problems you notice. Ask when the request is ambiguous."
    ),
    "mode_translator_about": "translates English ↔ Russian",
    "mode_translator_prompt": (
        "You are a translator between English and Russian. Translate each message the person "
        "sends: English into Russian, Russian into English. Keep the meaning, tone and "
        "formatting; answer with the translation only, without comments."
    ),
    "mode_editor_about": "corrects and improves your text",
    "mode_editor_prompt": (
        "You are a careful editor. Correct the spelling, grammar and punctuation of the text the "
        "person sends and make it clearer, keeping its language, meaning and voice. Answer with "
        "the edited text, then a short list of the main changes."
    ),
    "mode_tutor_about": "explains step by step and asks questions",
    "mode_tutor_prompt": (
        "You are a patient tutor. Explain step by step, in simple words, with an example. Check "
        "understanding with a short question at the end, and do not just hand over the answer "
        "to an exercise: guide the person to it."
    ),
    "mode_brief_about": "short answers, no padding",
    "mode_brief_prompt": (
        "You answer as briefly as possible: one to three sentences or a short list, no "
        "introductions, no repetition of the question, no closing remarks."
    ),
    # Telegram Stars (core.purchases).
    "cmd_buy": "buy tokens with Stars",
    "cmd_refund": "<charge id>: refund a purchase and take its tokens back",
    "buy_unavailable": (
        "This messenger cannot take payments, so there is nothing to buy here. Ask the admin "
        "for tokens."
    ),
    "buy_none": "Nothing is for sale: the admin has set no packs of tokens.",
    "buy_offer": (
        "Packs of tokens for Stars: pay one and its tokens are added to your balance at once."
    ),
    "invoice_title": "{tokens:n} tokens",
    "invoice_description": (
        "{tokens:n} tokens for the bot's answers, added to your balance as soon as you pay."
    ),
    "pay_busy": "The bot is busy. Please pay again in a minute.",
    "pay_stopping": "The bot is restarting. Please pay again in a minute.",
    "pay_unknown_pack": "This offer is no longer available. Send /buy for the current ones.",
    "pay_refused": "This bot does not serve you, so it cannot take your payment.",
    "paid": (
        "Thank you! {tokens:n} tokens were added for {stars:n} ⭐. Your balance: {balance:n}."
    ),
    "paid_again": (
        "This payment ({stars:n} ⭐, charge {charge}) was credited already: {tokens:n} tokens. "
        "Your balance: {balance:n}."
    ),
    "paid_unsaved": (
        "Your payment of {stars:n} ⭐ arrived, but it could not be credited just now. The "
        "admin has been told and will credit or refund it (charge {charge})."
    ),
    "admin_paid": "{who} bought {tokens:n} tokens for {stars:n} ⭐ (charge {charge}).",
    "admin_paid_unsaved": (
        "A payment could not be saved: {who} paid {stars:n} ⭐ for {tokens:n} tokens, charge "
        "{charge} ({detail}). Credit it with /topup, or refund the Stars."
    ),
    "refund_usage": "Usage: /refund <charge id> (it is in the notice of the purchase).",
    "refund_unavailable": "This messenger cannot refund payments.",
    "refund_unknown": "No purchase has the charge id {charge}.",
    "refund_already": "The purchase {charge} was refunded already ({when}); nothing changed.",
    "refund_failed": "The refund of {charge} failed: {reason}. Nothing was taken back.",
    "refund_done": (
        "Refunded {stars:n} ⭐ to {who}; {tokens:n} tokens taken back. Their balance: {balance:n}."
    ),
    "refund_negative": (
        " That is below zero: their requests are refused until a top-up or a refill covers it."
    ),
    # The operator's view (core.usage).
    "cmd_usage": "a chart of tokens and Stars per day",
    "stats_days": "\n\nLast {days} days (tokens, Stars):\n{lines}",
    "stats_day": "{day}: {tokens:n}, {stars:n} ⭐",
    "stats_days_none": "\n\nLast {days} days: no tokens charged, no Stars paid.",
    "usage_title": "Tokens and Stars per day, last {days} days",
    "usage_tokens": "tokens",
    "usage_stars": "Stars",
    "usage_caption": "Last {days} days: {tokens:n} tokens charged, {stars:n} ⭐ paid.",
    "usage_unavailable": "Charts need matplotlib, which is not installed with this bot.",
    "usage_private": "Send /usage in your private chat with the bot: the numbers are yours.",
}
