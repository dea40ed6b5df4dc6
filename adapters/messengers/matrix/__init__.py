"""Matrix through matrix-nio: rooms, replies, edits as a live answer, HTML from Markdown.

- ``addressing``: which events are for the bot and what the core sees of them (no SDK).
- ``html``: the model's Markdown as the sanitised HTML of ``formatted_body``.
- ``attachments``: media events as the core's attachments (no SDK).
- ``media``: their bytes from the content repository, within the size limit.
- ``sink``: sending, editing and typing, paced and backed off per room.
- ``bot``: the sync loop that turns events into the core's ``Incoming``.
"""
