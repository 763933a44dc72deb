import pytest

from refiner_stores.location import is_postgres, masked, url_password


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://refiner:s3cr%40t@db:5432/app", True),
        ("POSTGRES://db/app", True),
        ("postgresql://", True),
        (".refiner-webhooks/events.sqlite", False),
        ("data/postgresql://x", False),
        ("", False),
        (None, False),
    ],
)
def test_postgres_urls_are_told_from_paths(value, expected):
    assert is_postgres(value) is expected


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        (
            "postgresql://refiner:s3cr%40t@db:5432/app",
            "s3cr@t",
            "postgresql://refiner:***@db:5432/app",
        ),
        (
            "postgresql://refiner@db/app?sslmode=require&password=hunter22",
            "hunter22",
            "postgresql://refiner@db/app?sslmode=require&password=***",
        ),
        ("postgresql://refiner@db/app", None, "postgresql://refiner@db/app"),
        ("postgresql://", None, "postgresql://"),
        ("events.sqlite", None, "events.sqlite"),
    ],
)
def test_a_urls_password_is_found_and_masked(url, password, shown):
    assert url_password(url) == password
    assert masked(url) == shown
    if password:
        assert password not in masked(url)
        assert "s3cr%40t" not in masked(url)
