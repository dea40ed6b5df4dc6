"""Downloads from a homeserver's content repository: the size limit kept before and during the
download, the older endpoint for older homeservers, a rate limit waited out on a fake clock."""

from __future__ import annotations

import pytest

from adapters.messengers.matrix.media import MatrixMedia
from core.errors import MediaTooLarge, MediaUnavailable
from core.values import Attachment, MediaKind
from tests.adapters.messengers.matrix.homeserver import Homeserver

ROOM = "!room:localhost"
DATA = bytes(range(256)) * 40  # 10 240 bytes


def picture(media_id: str = "abc", size: int | None = None) -> Attachment:
    return Attachment(MediaKind.IMAGE, f"mxc://localhost/{media_id}", size=size)


@pytest.mark.parametrize("announce", [True, False])
async def test_the_bytes_come_whole_and_in_chunks(announce: bool) -> None:
    async with Homeserver.running(media={"abc": DATA}, announce_length=announce) as server:
        media = MatrixMedia(server.url, lambda: "token")
        try:
            assert await media.fetch(ROOM, picture(), len(DATA)) == DATA
        finally:
            await media.close()


async def test_a_file_declared_too_large_is_refused_before_any_download() -> None:
    async with Homeserver.running(media={"abc": DATA}) as server:
        media = MatrixMedia(server.url, lambda: "token")
        try:
            with pytest.raises(MediaTooLarge):
                await media.fetch(ROOM, picture(size=len(DATA)), len(DATA) - 1)
        finally:
            await media.close()
        assert server.downloads == []


@pytest.mark.parametrize("announce", [True, False])
async def test_a_file_that_lies_about_its_size_is_cut_off_at_the_limit(announce: bool) -> None:
    """The event says 10 bytes; the server sends 10 240, announced or chunked."""
    async with Homeserver.running(media={"abc": DATA}, announce_length=announce) as server:
        media = MatrixMedia(server.url, lambda: "token")
        try:
            with pytest.raises(MediaTooLarge):
                await media.fetch(ROOM, picture(size=10), 5_000)
        finally:
            await media.close()


async def test_an_older_homeserver_gets_the_unauthenticated_endpoint() -> None:
    async with Homeserver.running(media={"abc": DATA}, authenticated_media=False) as server:
        media = MatrixMedia(server.url, lambda: "token")
        try:
            assert await media.fetch(ROOM, picture(), len(DATA)) == DATA
        finally:
            await media.close()
        assert server.downloads == ["/_matrix/media/v3/download/localhost/abc"]


async def test_a_rate_limit_is_waited_out_while_the_person_may_still_wait() -> None:
    now = [0.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    async with Homeserver.running(media={"abc": DATA}, busy_downloads=2) as server:
        media = MatrixMedia(server.url, lambda: "token", clock=lambda: now[0], sleep=sleep)
        try:
            assert await media.fetch(ROOM, picture(), len(DATA)) == DATA
            assert waited == [1.5, 1.5]
            server.busy_downloads = 100  # longer than a person waits: given up
            with pytest.raises(MediaUnavailable):
                await media.fetch(ROOM, picture(), len(DATA))
            assert sum(waited) <= 3.0 + media.max_wait
        finally:
            await media.close()


async def test_what_is_gone_or_no_mxc_uri_is_unavailable() -> None:
    async with Homeserver.running() as server:
        media = MatrixMedia(server.url, lambda: "token")
        try:
            with pytest.raises(MediaUnavailable):
                await media.fetch(ROOM, picture("gone"), 1_000)
            with pytest.raises(MediaUnavailable):
                await media.fetch(ROOM, Attachment(MediaKind.IMAGE, "https://x/y"), 1_000)
        finally:
            await media.close()
