from sqlalchemy import text


def test_connection(gearbox_connection):
    assert gearbox_connection.execute(text("select name from categories")).scalars().all() == [
        "Uncategorized"
    ]
