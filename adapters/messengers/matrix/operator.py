"""Where the admin is reached on Matrix: a direct room with them, found or made once."""

from __future__ import annotations

import attrs
import nio

from adapters.messengers.matrix.sink import MatrixSink
from core.errors import DeliveryFailed


@attrs.define
class MatrixOperator:
    sink: MatrixSink
    admin: str
    _room: str | None = None

    async def notify(self, text: str) -> None:
        await self.sink.send(await self._room_with_admin(), text)

    async def _room_with_admin(self) -> str:
        if self._room is not None:
            return self._room
        client = self.sink.client
        for room in client.rooms.values():
            people = set(room.users) | set(room.invited_users)
            if people == {self.sink.bot_id, self.admin}:
                self._room = str(room.room_id)
                return self._room
        made = await client.room_create(is_direct=True, invite=[self.admin], name="gptbot")
        if not isinstance(made, nio.RoomCreateResponse):
            raise DeliveryFailed(f"Matrix: cannot open a room with the admin: {made.message}")
        self._room = str(made.room_id)
        return self._room
