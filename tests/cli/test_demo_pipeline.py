"""The demo pipeline's login step: one app service call creates the login or resets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from retain.app import ensure_user, make_engine, make_sessionmaker
from retain.cli._pipeline import DEMO_ADMIN, DEMO_LOGIN, _login
from retain.config import Settings
from retain.errors import ConflictError


def test_login_is_created_then_reset_on_a_second_run(tmp_path: Path) -> None:
    from retain.app.auth.service import authenticate, update_user

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}")
    assert _login(settings) == DEMO_LOGIN
    email, password = DEMO_LOGIN
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as session:
        user = authenticate(session, email=email, password=password)
        assert (user.role, user.name, user.active) == ("analyst", "Demo", True)
        admin = authenticate(session, email=DEMO_ADMIN[0], password=DEMO_ADMIN[1])
        assert admin.role == "admin"
        update_user(session, user=user, password="changed-by-someone", active=False)
        session.commit()
    assert _login(settings) == DEMO_LOGIN  # a second `make demo` resets what was changed
    with make_sessionmaker(engine)() as session:
        assert authenticate(session, email=email, password=password).active
        with pytest.raises(ConflictError):
            ensure_user(session, email=email.upper(), role="admin", password="another-pw")
    engine.dispose()
