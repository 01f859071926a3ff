"""The Mini App's launch data (web.init_data): Telegram's signature checked exactly as specified,
against a vector signed by another implementation, and each known way of getting it wrong
refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote, urlencode

import pytest

from core.rules import Rules
from web.init_data import InitDataRejected, sign, verify

# Published with @telegram-apps/init-data-node's documentation, signed by that implementation.
VECTOR_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
VECTOR = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A"
    "%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C"
    "%22is_premium%22%3Atrue%7D"
    "&auth_date=1662771648"
    "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
)
VECTOR_DATE = 1662771648
TOKEN = "123456:our-test-token"
NOW = 1_800_000_000
MAX_AGE = Rules().miniapp.max_age_seconds


def launch(fields: dict[str, str], token: str = TOKEN, *, hash_with: str | None = None) -> str:
    """Launch data as Telegram's client sends it: the fields URL-encoded, then the hash."""
    signed = hash_with if hash_with is not None else sign(fields, token)
    return urlencode({**fields, "hash": signed}, quote_via=quote)


def fields_for(user: dict[str, object], auth_date: int = NOW, **more: str) -> dict[str, str]:
    return {"user": json.dumps(user, ensure_ascii=False), "auth_date": str(auth_date), **more}


def test_the_published_vector_signed_elsewhere_is_valid() -> None:
    data = verify(VECTOR, VECTOR_TOKEN, max_age_seconds=MAX_AGE, now=VECTOR_DATE + 5)
    assert data.user_id == 279058397
    assert data.user["username"] == "vdkfrost"
    assert data.auth_date == VECTOR_DATE


def test_the_published_vector_is_refused_for_another_bot_and_when_old() -> None:
    with pytest.raises(InitDataRejected, match="bad_signature"):
        verify(VECTOR, TOKEN, max_age_seconds=MAX_AGE, now=VECTOR_DATE)
    with pytest.raises(InitDataRejected, match="expired"):
        verify(VECTOR, VECTOR_TOKEN, max_age_seconds=MAX_AGE, now=VECTOR_DATE + MAX_AGE + 1)


def test_a_persian_name_and_an_ampersand_inside_a_value_survive() -> None:
    """Split on ``&`` first, decode each part after: decoding first would cut ``a&b`` in two."""
    fields = fields_for({"id": 42, "first_name": "زهرا & علی"}, start_param="a&b=c")
    data = verify(launch(fields), TOKEN, max_age_seconds=MAX_AGE, now=NOW)
    assert data.user["first_name"] == "زهرا & علی"
    assert data.fields["start_param"] == "a&b=c"


def test_a_changed_field_breaks_the_signature() -> None:
    raw = launch(fields_for({"id": 42, "first_name": "Zahra"}))
    forged = raw.replace("%22id%22%3A%2042", "%22id%22%3A%2043")
    assert forged != raw
    with pytest.raises(InitDataRejected, match="bad_signature"):
        verify(forged, TOKEN, max_age_seconds=MAX_AGE, now=NOW)


def test_the_fields_are_not_hashed_as_a_rebuilt_object() -> None:
    """A signer that hashed the parsed user re-serialized (keys sorted, spaces dropped) made a
    hash of different bytes: refused, since the raw string is what Telegram signed."""
    user = {"id": 42, "first_name": "Zahra", "allows_write_to_pm": True}
    fields = fields_for(user)
    rebuilt = {**fields, "user": json.dumps(user, sort_keys=True, separators=(",", ":"))}
    raw = launch(fields, hash_with=sign(rebuilt, TOKEN))
    with pytest.raises(InitDataRejected, match="bad_signature"):
        verify(raw, TOKEN, max_age_seconds=MAX_AGE, now=NOW)


def test_the_login_widget_scheme_and_a_swapped_key_are_refused() -> None:
    fields = fields_for({"id": 42})
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    widget_key = hashlib.sha256(TOKEN.encode()).digest()
    swapped_key = hmac.new(TOKEN.encode(), b"WebAppData", hashlib.sha256).digest()
    for key in (widget_key, swapped_key):
        wrong = hmac.new(key, check, hashlib.sha256).hexdigest()
        with pytest.raises(InitDataRejected, match="bad_signature"):
            verify(launch(fields, hash_with=wrong), TOKEN, max_age_seconds=MAX_AGE, now=NOW)


def test_age_is_checked_both_ways() -> None:
    old = launch(fields_for({"id": 42}, auth_date=NOW - MAX_AGE - 1))
    with pytest.raises(InitDataRejected, match="expired"):
        verify(old, TOKEN, max_age_seconds=MAX_AGE, now=NOW)
    just_in_time = launch(fields_for({"id": 42}, auth_date=NOW - MAX_AGE))
    assert verify(just_in_time, TOKEN, max_age_seconds=MAX_AGE, now=NOW).user_id == 42
    ahead = launch(fields_for({"id": 42}, auth_date=NOW + 3600))
    with pytest.raises(InitDataRejected, match="from_the_future"):
        verify(ahead, TOKEN, max_age_seconds=MAX_AGE, now=NOW)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        ("user=1&user=2&hash=ab", "malformed"),
        ("user=%7B%7D&auth_date=1", "unsigned"),
        ("x" * 5000, "malformed"),
    ],
)
def test_malformed_or_unsigned_data_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(InitDataRejected, match=reason):
        verify(raw, TOKEN, max_age_seconds=MAX_AGE, now=NOW)


def test_signed_data_without_a_user_or_a_date_is_refused() -> None:
    no_user = launch({"auth_date": str(NOW)})
    with pytest.raises(InitDataRejected, match="no_user"):
        verify(no_user, TOKEN, max_age_seconds=MAX_AGE, now=NOW)
    no_date = launch({"user": json.dumps({"id": 42})})
    with pytest.raises(InitDataRejected, match="no_auth_date"):
        verify(no_date, TOKEN, max_age_seconds=MAX_AGE, now=NOW)
