import pytest
from sqlalchemy import func, select

from lti_tool import events
from lti_tool.db import db
from lti_tool.events import Event, EventError


def test_publish_writes_in_the_callers_transaction(where):
    events.publish("media_progress", **where, data={"item_id": 3, "position": 12.5, "duration": 60})
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    event = events.publish("item_viewed", **where, data={"item_id": 3})
    db.session.commit()
    stored = db.session.get(Event, event.id)
    assert (stored.kind, stored.data) == ("item_viewed", {"item_id": 3})


@pytest.mark.parametrize(
    "kind, data, overrides, message",
    [
        ("page_liked", {}, {}, "unknown event kind 'page_liked'"),
        ("item_viewed", {}, {}, "need 'item_id'"),
        ("item_viewed", {"item_id": "3"}, {}, "must be int"),
        ("item_viewed", {"item_id": True}, {}, "must be int"),
        ("media_progress", {"item_id": 1, "position": "x", "duration": 3}, {}, "'position' must be int or float"),
        ("item_viewed", {"item_id": 1}, {"user_pk": None}, "need a user"),
        ("item_viewed", {"item_id": 1}, {"context_pk": None}, "need a context"),
    ],
)
def test_malformed_events_are_rejected_and_write_nothing(where, kind, data, overrides, message):
    with pytest.raises(EventError, match=message):
        events.publish(kind, **{**where, **overrides}, data=data)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
