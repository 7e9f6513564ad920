"""The try-it page in a real Chromium against a real REST server on a small real SavedModel:
typed query -> top-k titles with scores, the masked query, clear messages for a missing or wrong
token and for a stopped server, no script or console errors."""
import json
import urllib.request

import pytest

from serving import server
from tests.support import catalog_model
from tests.support.try_it_browser import try_it

MODEL = "privrec"
TOKEN = "browser-token"
FAILED_LOAD = "Failed to load resource"  # Chromium's own line for a refused or failed request


def _start(base_path):
    model_server = server.ModelServer(MODEL, base_path, port=0, rest_port=0,
                                      tokens=frozenset({TOKEN}))
    model_server.start()
    return model_server


@pytest.fixture(scope="module")
def rest(catalog_base_path):
    model_server = _start(catalog_base_path)
    yield f"http://{model_server.rest.address}"
    model_server.stop()


def _api_answer(rest, query, recent):
    request = urllib.request.Request(
        f"{rest}/v1/models/{MODEL}:predict", headers={"Authorization": f"Bearer {TOKEN}"},
        data=json.dumps({"instances": [{"user_id": "", "query": query,
                                        "recent_item_ids": " ".join(recent)}]}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["predictions"][0]


def test_typed_query_shows_the_models_top_k_titles_and_scores(rest, tmp_path):
    with try_it(rest + "/ui") as page:
        page.open()
        assert "requires a bearer token" in page.wait_status("bearer token")
        page.use_token(TOKEN)
        assert page.wait_status("Ready") == f"Ready: {len(catalog_model.CATALOG)} catalog items."
        page.add_recent("Yoga Mat")  # by title
        page.add_recent("p003")      # by item id
        assert page.page.locator("#recent li").count() == 2
        assert page.recommend("wireless headphones").endswith("recommendations.")
        expected = _api_answer(rest, "wireless headphones", ["p008", "p003"])
        assert page.results() == [(t, i, round(s, 4)) for t, i, s in zip(
            expected["titles"], expected["item_ids"], expected["scores"])]
        assert page.results()[0][:2] == ("Wireless Headphones", "p001")
        page.page.screenshot(path=str(tmp_path / "try-it.png"), full_page=True)
        assert page.page_errors == [] and page.console_errors == []
    with open(tmp_path / "try-it.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_phone_number_in_the_query_shows_as_phone_placeholder(rest):
    with try_it(rest + "/ui") as page:
        page.open().use_token(TOKEN)
        page.wait_status("Ready")
        page.recommend("wireless mouse, ring me on 13812345678")
        assert page.masked() == "wireless mouse, ring me on [PHONE]"
        assert page.marked() == ["[PHONE]"]
        assert "13812345678" not in page.page.locator("#answer").inner_text()
        assert page.page_errors == [] and page.console_errors == []


def test_a_wrong_token_gets_a_clear_message(rest):
    with try_it(rest + "/ui") as page:
        page.open().use_token("not-the-token")
        message = page.wait_status("refused")
        assert "refused the bearer token" in message and "Access" in message
        page.recommend("desk lamp")
        assert "refused the bearer token" in page.status()
        assert not page.page.locator("#answer").is_visible()
        assert page.page_errors == []
        assert page.console_errors and all(FAILED_LOAD in e for e in page.console_errors)


def test_a_stopped_server_gets_a_clear_message(catalog_base_path):
    model_server, running = _start(catalog_base_path), True
    try:
        with try_it(f"http://{model_server.rest.address}/ui") as page:
            page.open().use_token(TOKEN)
            page.wait_status("Ready")
            model_server.stop()
            running = False
            message = page.recommend("coffee grinder")
            assert message.startswith("Cannot reach the model server at http://")
            assert "stopped" in message
            assert not page.page.locator("#answer").is_visible()
            assert page.page_errors == []
            assert all(FAILED_LOAD in e or "ERR_CONNECTION_REFUSED" in e
                       for e in page.console_errors)
    finally:
        if running:
            model_server.stop()
