"""The domain: every business rule and permission check, framework-free.

Functions are keyword-only coroutines that take the acting user and return
models; they raise :mod:`core.errors` exceptions. The three doors (GraphQL,
REST, WebSocket) call them and only translate.
"""
