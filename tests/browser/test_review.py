"""The accessibility check itself finds problems when there are some (so a clean page means
something)."""

from tests.browser.review import axe_violations, describe

BAD_PAGE = """<!doctype html><html><head><title>Bad</title></head><body>
<main><h1>A form with problems</h1>
<form><input type="text" name="nameless"><button type="submit"></button></form>
<p style="color:#bbb;background:#fff">Low contrast text</p></main></body></html>"""

GOOD_PAGE = """<!doctype html><html lang="en"><head><title>Good</title></head><body>
<main><h1>A form without problems</h1>
<form><label for="name">Name</label> <input id="name" type="text" name="name">
<button type="submit">Send</button></form><p>Readable text.</p></main></body></html>"""


def test_axe_reports_serious_problems_readably(page):
    page.set_content(BAD_PAGE)
    violations = axe_violations(page.main_frame)
    assert {"label", "button-name", "color-contrast", "html-has-lang"} <= {v["id"] for v in violations}
    text = describe(violations, "the bad page")
    assert "[critical] label:" in text and "<input type=\"text\" name=\"nameless\">" in text


def test_a_clean_page_passes(page):
    page.set_content(GOOD_PAGE)
    assert axe_violations(page.main_frame) == []
