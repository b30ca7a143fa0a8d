"""One WebSocket text frame, serialized once, written to many connections.

A server's frames are not masked, so without compression a text frame is
the same bytes on every connection. ``websockets.broadcast`` (and a sans-I/O
``send_text``) builds and serializes that frame again for each connection;
a fan-out to a thousand sockets pays it a thousand times per event. Here
:func:`text_frame` serializes it once (with ``websockets``' own
:class:`~websockets.frames.Frame`), and :func:`shareable` tells whether a
connection's protocol can take those bytes as they are: open, no extension
(permessage-deflate compresses per connection), no fragmented message
half-sent, nothing of its own still waiting to be written. When it cannot,
the caller sends the payload the ordinary way.

Both real-time doors use it: the chat server (``websockets.asyncio``
connections) and the GraphQL door (uvicorn's ``websockets`` sans-I/O
protocol).
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol


def text_frame(payload: bytes) -> bytes:
    """The bytes of an unmasked, uncompressed, final text frame of ``payload``."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def shareable(protocol: Protocol) -> bool:
    """Whether :func:`text_frame`'s bytes may go straight to this connection's
    transport, as its protocol would have written them."""
    return (
        protocol.state is OPEN
        and not protocol.extensions
        and not protocol.expect_continuation_frame
        and not protocol.writes
    )
