"""Validation of values the user asks auditop to set."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.settings import U32_MAX, InvalidSetting, max_value, parse_setting


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("backlog_limit", "8192", 8192),
    ("backlog_limit", " 64 ", 64),
    ("backlog_limit", str(U32_MAX), U32_MAX),
    ("rate_limit", "0", 0),
    ("backlog_wait_time", "0", 0),
    ("backlog_wait_time", "150000", 150000),
])
def test_accepts(field, text, expected):
    assert parse_setting(field, text, hz=250) == expected


@pytest.mark.parametrize(("field", "text", "words"), [
    ("backlog_limit", "-1", "negative"),
    ("backlog_limit", "abc", "whole number"),
    ("backlog_limit", "1.5", "whole number"),
    ("backlog_limit", "", "whole number"),
    ("backlog_limit", "+5", "whole number"),
    ("backlog_limit", "٣", "whole number"),
    ("backlog_limit", str(U32_MAX + 1), "at most"),
    ("backlog_limit", "0", "unlimited"),
    ("backlog_wait_time", "150001", "at most 150000"),
    ("failure", "2", "unknown field"),
    ("enabled", "1", "unknown field"),
])
def test_refuses_with_a_reason(field, text, words):
    with pytest.raises(InvalidSetting, match=words):
        parse_setting(field, text, hz=250)


def test_zero_backlog_limit_needs_the_explicit_flag():
    assert parse_setting("backlog_limit", "0", allow_unlimited=True) == 0


def test_wait_time_bound_without_hz_is_the_largest_common_kernel():
    assert max_value("backlog_wait_time") == 600000
    assert parse_setting("backlog_wait_time", "600000") == 600000


@given(st.text(max_size=20))
def test_any_text_is_a_value_or_a_clear_refusal(text):
    try:
        value = parse_setting("backlog_limit", text)
    except InvalidSetting as exc:
        assert str(exc)
    else:
        assert value == int(text.strip()) and 1 <= value <= U32_MAX


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_integers_are_accepted_exactly_in_range(n):
    try:
        value = parse_setting("rate_limit", str(n))
    except InvalidSetting:
        assert n < 0 or n > U32_MAX
    else:
        assert value == n and 0 <= n <= U32_MAX
