"""The dedicated chat WebSocket server (``WS_PORT``, default 9001)."""
