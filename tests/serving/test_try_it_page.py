"""The try-it page at /ui and the catalog endpoint it reads, over real HTTP on a small real
SavedModel with privrec's serving contract (tests/support/catalog_model.py)."""
import json
import os
import re
import urllib.error
import urllib.request

import pytest

from privrec import contract
from serving import server
from tests.support import catalog_model, echo_model
from tests.support.echo_model import MODEL

TOKEN = "try-it-token"


@pytest.fixture(scope="module")
def rest(catalog_base_path):
    model_server = server.ModelServer(MODEL, catalog_base_path, port=0, rest_port=0,
                                      tokens=frozenset({TOKEN}))
    model_server.start()
    yield f"http://{model_server.rest.address}"
    model_server.stop()


def _get(url, token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_ui_is_one_self_contained_html_page_under_a_strict_csp(rest):
    status, headers, page = _get(rest + "/ui")  # no token: the page holds no data
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'<meta name="privrec-model" content="{MODEL}">' in page
    assert not re.search(r"(?:src|href|action)\s*=\s*[\"'](?!data:)", page)  # nothing to load
    assert not re.search(r"https?://|//[a-z]", page.replace("https?://", ""))
    policy = dict(part.strip().split(" ", 1) for part in
                  headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]{44}'", policy["script-src"])
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_catalog_endpoint_serves_the_versions_catalog_behind_the_token(rest, catalog_base_path):
    with open(os.path.join(catalog_base_path, "1", "assets.extra", contract.CATALOG_FILE)) as f:
        written = json.load(f)
    status, headers, body = _get(rest + f"/v1/models/{MODEL}/catalog", TOKEN)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"model_version": "1", "items": written}
    assert _get(rest + f"/v1/models/{MODEL}/versions/1/catalog", TOKEN)[0] == 200
    assert _get(rest + f"/v1/models/{MODEL}/catalog")[0] == 401
    assert _get(rest + f"/v1/models/{MODEL}/catalog", "wrong")[0] == 403
    status, _, body = _get(rest + f"/v1/models/{MODEL}/versions/7/catalog", TOKEN)
    assert status == 404 and "7" in json.loads(body)["error"]


def test_predict_returns_titles_and_the_masked_query_the_model_saw(rest):
    status, _, body = _get(rest + f"/v1/models/{MODEL}:predict", TOKEN, {"instances": [
        {"user_id": "", "query": "call 13812345678 about wireless headphones",
         "recent_item_ids": "p008"}]})
    assert status == 200
    prediction = json.loads(body)["predictions"][0]
    assert prediction[contract.MASKED_QUERY_KEY] == "call [PHONE] about wireless headphones"
    titles = dict(catalog_model.CATALOG)
    assert prediction[contract.TITLES_KEY] == [titles[i] for i in prediction["item_ids"]]
    assert prediction["item_ids"][0] == "p001"  # both title words in the query


@pytest.fixture(scope="module")
def open_rest_without_catalog(tmp_path_factory):
    """A server without tokens on a SavedModel without assets.extra/catalog.json."""
    path = tmp_path_factory.mktemp("no_catalog") / MODEL
    echo_model.save(str(path / "3"))
    model_server = server.ModelServer(MODEL, str(path), port=0, rest_port=0)
    model_server.start()
    yield f"http://{model_server.rest.address}"
    model_server.stop()


def test_a_version_without_a_catalog_gets_a_clear_404(open_rest_without_catalog):
    status, _, body = _get(open_rest_without_catalog + f"/v1/models/{MODEL}/catalog")
    assert status == 404 and contract.CATALOG_FILE in json.loads(body)["error"]
    assert "version 3" in json.loads(body)["error"]


def test_without_tokens_the_page_asks_for_none(open_rest_without_catalog, rest):
    assert '<meta name="privrec-token-required" content="no">' in _get(
        open_rest_without_catalog + "/ui")[2]
    assert '<meta name="privrec-token-required" content="yes">' in _get(rest + "/ui/")[2]
