"""The development LMS's storage frame speaks the LTI client-side postMessages to the registered
tool only: both message families, answers carrying the request's message_id, errors as
{error: {code, message}}."""

from typing import Any

from tests.browser.helpers import STORAGE_FRAME_NAME, TOOL_FRAME, open_course, tool_frame

# Sends each message to the LMS's storage frame from the calling document and collects the
# answers (matched on message_id), in order.
ASK = """async ({frameName, messages}) => {
  const frame = window.parent !== window ? window.parent.frames[frameName] : window.frames[frameName];
  const ask = (message) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer to " + message.subject)), 5000);
    window.addEventListener("message", function listen(event) {
      if (!event.data || event.data.message_id !== message.message_id) return;
      clearTimeout(timer);
      window.removeEventListener("message", listen);
      resolve({origin: event.origin, data: event.data});
    });
    frame.postMessage(message, "*");
  });
  const answers = [];
  for (const message of messages) answers.push(await ask(message));
  return answers;
}"""


def ask(target: Any, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    answers = target.evaluate(ASK, {"frameName": STORAGE_FRAME_NAME, "messages": list(messages)})
    return [answer["data"] for answer in answers]


def open_tool_page(page, tool, lms) -> Any:
    """The course page with a page of the tool's origin in its frame (no launch needed)."""
    open_course(page, lms, profile="canvas")
    page.locator(TOOL_FRAME).evaluate("(frame, url) => { frame.removeAttribute('srcdoc'); frame.src = url; }", tool.url + "/healthz")
    frame = page.frame(name="tool_frame")
    frame.wait_for_url(tool.url + "/healthz")
    return tool_frame(page)


def test_storage_frame_answers_both_message_families(tool, lms, page):
    frame = open_tool_page(page, tool, lms)
    capabilities, old_capabilities = ask(
        frame,
        {"subject": "lti.capabilities", "message_id": "c1"},
        {"subject": "org.imsglobal.lti.capabilities", "message_id": "c2"},
    )
    assert capabilities == {
        "subject": "lti.capabilities.response",
        "message_id": "c1",
        "supported_messages": [
            {"subject": "lti.capabilities"},
            {"subject": "lti.put_data", "frame": STORAGE_FRAME_NAME},
            {"subject": "lti.get_data", "frame": STORAGE_FRAME_NAME},
        ],
    }
    assert [m["subject"] for m in old_capabilities["supported_messages"]] == [
        "org.imsglobal.lti.capabilities",
        "org.imsglobal.lti.put_data",
        "org.imsglobal.lti.get_data",
    ]

    put, get, old_get, old_put, overwritten = ask(
        frame,
        {"subject": "lti.put_data", "message_id": "p1", "key": "lti_state_abc", "value": "abc"},
        {"subject": "lti.get_data", "message_id": "g1", "key": "lti_state_abc"},
        {"subject": "org.imsglobal.lti.get_data", "message_id": "g2", "key": "lti_state_abc"},
        {"subject": "org.imsglobal.lti.put_data", "message_id": 7, "key": "lti_state_abc", "value": "xyz"},
        {"subject": "lti.get_data", "message_id": "g3", "key": "lti_state_abc"},
    )
    assert put == {"subject": "lti.put_data.response", "message_id": "p1", "key": "lti_state_abc", "value": "abc"}
    assert get == {"subject": "lti.get_data.response", "message_id": "g1", "key": "lti_state_abc", "value": "abc"}
    assert old_get == {
        "subject": "org.imsglobal.lti.get_data.response",
        "message_id": "g2",
        "key": "lti_state_abc",
        "value": "abc",
    }
    assert old_put["message_id"] == 7 and "error" not in old_put
    assert overwritten["value"] == "xyz"


def test_storage_frame_refuses_what_it_cannot_serve(tool, lms, page):
    frame = open_tool_page(page, tool, lms)
    missing, no_key, not_text, too_long, unknown = ask(
        frame,
        {"subject": "lti.get_data", "message_id": "m1", "key": "never_stored"},
        {"subject": "lti.put_data", "message_id": "m2", "value": "v"},
        {"subject": "lti.put_data", "message_id": "m3", "key": "k", "value": {"an": "object"}},
        {"subject": "lti.put_data", "message_id": "m4", "key": "k", "value": "x" * 5000},
        {"subject": "lti.frameResize", "message_id": "m5", "height": 100},
    )
    assert missing["subject"] == "lti.get_data.response" and missing["message_id"] == "m1"
    assert missing["error"]["code"] == "bad_request" and "never_stored" in missing["error"]["message"]
    assert "value" not in missing
    assert no_key["error"]["code"] == "bad_request" and "key" in no_key["error"]["message"]
    assert not_text["error"]["code"] == "bad_request"
    assert too_long["error"]["code"] == "bad_request"
    assert unknown == {
        "subject": "lti.frameResize.response",
        "message_id": "m5",
        "error": {"code": "unsupported_subject", "message": "This frame does not handle lti.frameResize."},
    }
    # Nothing refused was stored.
    (after,) = ask(frame, {"subject": "lti.get_data", "message_id": "m6", "key": "k"})
    assert after["error"]["code"] == "bad_request"


def test_storage_frame_serves_the_registered_tool_only(tool, lms, page):
    frame = open_tool_page(page, tool, lms)
    ask(frame, {"subject": "lti.put_data", "message_id": "t1", "key": "lti_state_s", "value": "tool's"})
    # The LMS page itself is another origin than the tool's: refused, and told nothing.
    put, get = ask(
        page.main_frame,
        {"subject": "lti.put_data", "message_id": "o1", "key": "lti_state_s", "value": "forged"},
        {"subject": "lti.get_data", "message_id": "o2", "key": "lti_state_s"},
    )
    for answer in (put, get):
        assert answer["error"]["code"] == "wrong_origin"
        assert "value" not in answer
    (kept,) = ask(frame, {"subject": "lti.get_data", "message_id": "t2", "key": "lti_state_s"})
    assert kept["value"] == "tool's"
