"""``retain surveys invite`` speaks each customer's language whatever form its tag takes.

The customers table holds BCP 47 tags as loaded (``ja-JP``, ``KO``, ``ko_KR``): each is the
customer's language (en, ja or ko), as everywhere else the service reads one, not English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.config import get_settings
from retain.engage._tables import OutboxMessage
from retain.ingest import ingest


def test_a_regional_or_upper_case_tag_is_the_customers_language(
    tmp_path: Path, monkeypatch: Any
) -> None:
    config = tmp_path / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{(tmp_path / "app.db").as_posix()}"\n'
        f'warehouse_url = "duckdb:///{(tmp_path / "w.duckdb").as_posix()}"\n'
        '[engage]\npublic_url = "https://shop.example.com"\n'
    )
    con = wh.connect(f"duckdb:///{(tmp_path / 'w.duckdb').as_posix()}")
    wh.create_tables(con)
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "email": [f"c{i}@example.com" for i in range(1, 5)],
            "language": ["ja-JP", "KO", "ko_KR", "fr-FR"],
        }
    )
    ingest("customers", customers, con=con)
    con.disconnect()
    ids = tmp_path / "ids.txt"
    ids.write_text("c1\nc2\nc3\nc4\n", encoding="utf-8")
    result = make_invoker(config, monkeypatch)("surveys", "invite", "nps", "--customers", str(ids))
    assert result.exit_code == 0, result.output
    from retain.app import make_engine, make_sessionmaker

    engine = make_engine(get_settings(config).database_url)
    try:
        with make_sessionmaker(engine)() as session:
            mails = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        engine.dispose()
    assert [(m.customer_id, m.language) for m in mails] == [
        ("c1", "ja"),
        ("c2", "ko"),
        ("c3", "ko"),
        ("c4", "en"),
    ]
