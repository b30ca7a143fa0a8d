"""Who may have a password checked now: the login throttle.

Registration is throttled by the same rule (``resolvers.auth.register``,
through :func:`registration_check`): a taken email counts as a failed login
on that email from that address, a new account as a successful one. Only
the wording differs: a throttled registration is told
:data:`REGISTER_THROTTLED`, never login's words.

Every count is taken before the password is hashed, atomically, so
concurrent guesses cannot all slip under a limit:

- the pair (email, address): ``LOGIN_MAX_FAILURES`` attempts per window, a
  success forgets them. A guesser is locked out of one account from one
  address; the owner, elsewhere, is not;
- the address: ``LOGIN_IP_MAX_FAILURES`` attempts per window over every
  email (a success is given back);
- the address, at once: ``LOGIN_IP_CONCURRENCY`` password checks in flight
  (per process), so one address cannot fill the bcrypt queue everyone
  waits in;
- the email, from everywhere: past ``LOGIN_EMAIL_SLOW_AFTER`` failures in
  the window, attempts on it are spaced ``LOGIN_EMAIL_SLOW_SECONDS`` apart.
  An account attacked from many addresses is slowed down, never locked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass

from core import audit, runtime
from core.errors import RateLimited

TOO_MANY_FAILURES = "Too many failed logins; retry later."
TOO_MANY_AT_ONCE = "Too many password checks at once from this address; retry in a moment."
SLOWED_DOWN = "This account is under attack: attempts are spaced out; retry in a moment."
# Every throttled registration, whichever count stopped it (login's, here,
# or the address's REGISTER_IP_MAX in resolvers.auth).
REGISTER_THROTTLED = "Too many registration attempts; retry later."
# Seconds a client over LOGIN_IP_CONCURRENCY is told to wait.
BUSY_RETRY_SECONDS = 1.0

_in_flight: Counter[str] = Counter()


@contextmanager
def hashing_slot(client_ip: str | None) -> Iterator[None]:
    """One of the address's ``LOGIN_IP_CONCURRENCY`` password hashes, or 429.

    Used around every bcrypt a client can trigger (login and registration).
    """
    address = str(client_ip)
    if _in_flight[address] >= runtime.get().settings.login_ip_concurrency:
        audit.rate_limited(f"login:busy:{address}", BUSY_RETRY_SECONDS)
        raise RateLimited(BUSY_RETRY_SECONDS, TOO_MANY_AT_ONCE)
    _in_flight[address] += 1
    try:
        yield
    finally:
        _in_flight[address] -= 1
        if _in_flight[address] <= 0:
            del _in_flight[address]


@dataclass(slots=True)
class Outcome:
    """Set ``ok`` once the password matched an active account."""

    ok: bool = False


@asynccontextmanager
async def password_check(
    email: str, client_ip: str | None, *, throttled: str | None = None
) -> AsyncIterator[Outcome]:
    """Admit one login attempt (or raise RateLimited) and settle its counts.

    ``throttled``: what a refusal says instead of login's wording.
    """
    rt = runtime.get()
    settings = rt.settings
    window = settings.login_window_seconds
    pair_key = f"login:pair:{client_ip}:{email}"
    ip_key = f"login:ip:{client_ip}"
    failures_key = f"login:email:{email}"
    with hashing_slot(client_ip):
        wait = await rt.limiter.acquire(pair_key, settings.login_max_failures, window)
        if wait:
            raise RateLimited(wait, throttled or TOO_MANY_FAILURES)
        wait = await rt.limiter.acquire(ip_key, settings.login_ip_max_failures, window)
        if wait:
            await rt.limiter.refund(pair_key)
            raise RateLimited(wait, throttled or TOO_MANY_FAILURES)
        if await rt.limiter.retry_after(failures_key, settings.login_email_slow_after, window):
            slot_key = f"login:slow:{email}"
            wait = await rt.limiter.acquire(slot_key, 1, settings.login_email_slow_seconds)
            if wait:
                await rt.limiter.refund(pair_key)
                await rt.limiter.refund(ip_key)
                raise RateLimited(wait, throttled or SLOWED_DOWN)
        outcome = Outcome()
        yield outcome
    if outcome.ok:
        await rt.limiter.reset(pair_key)
        await rt.limiter.refund(ip_key)
    else:
        await rt.limiter.hit(failures_key, window)


def registration_check(email: str, client_ip: str | None) -> AbstractAsyncContextManager[Outcome]:
    """:func:`password_check` for a registration: the same counts, its own wording."""
    return password_check(email, client_ip, throttled=REGISTER_THROTTLED)
