from sqlalchemy import Connection, text


def test_connection(gearbox_connection: Connection) -> None:
    assert gearbox_connection.execute(text("select name from categories")).scalars().all() == [
        "Uncategorized"
    ]
