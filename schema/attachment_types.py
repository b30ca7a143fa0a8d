"""Files attached to chat messages, on GraphQL (rules in ``resolvers.attachments``).

``attachments`` loads through one DataLoader per kind: one query per page.
Only the file's name, type, size and download path show: whoever may read
the message may download it (``GET /files/{id}``), nothing more."""

from __future__ import annotations

import strawberry
from strawberry.dataloader import DataLoader

from resolvers import attachments
from resolvers.attachments import AttachedFile
from schema import loaders
from schema.context import Context, Info


@strawberry.type(name="Attachment", description="A file attached to a message.")
class AttachedFileType:
    id: strawberry.ID
    filename: str
    content_type: str
    size: int
    url: str = strawberry.field(description="Where a reader of the message downloads it (GET).")

    @classmethod
    def of(cls, value: AttachedFile | dict[str, object]) -> AttachedFileType:
        data = value.as_dict() if isinstance(value, AttachedFile) else value
        return cls(
            id=strawberry.ID(str(data["id"])),
            filename=str(data["filename"]),
            content_type=str(data["content_type"]),
            size=int(str(data["size"])),
            url=f"/files/{data['id']}",
        )


def attached_files(context: Context, dm: bool) -> DataLoader[int, tuple[AttachedFile, ...]]:
    async def load(ids: list[int]) -> list[tuple[AttachedFile, ...]]:
        found = await attachments.of_messages(ids, dm=dm)
        return [found[i] for i in ids]

    return loaders.loader(context, "dm_attachments" if dm else "attachments", load)


async def attachments_of(info: Info, message_id: int, dm: bool) -> list[AttachedFileType]:
    files = await attached_files(info.context, dm).load(message_id)
    return [AttachedFileType.of(f) for f in files]
