"""The try-it page on `privrec serve --rest-port` serving the tiny run's pushed model, in
Chromium: the catalog's titles for a typed query, [PHONE] in what the model saw, a clear message
once the server stops; the screenshot is kept under test-artifacts/ (heavy: a pipeline run and
a server process of its own)."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.paths import ROOT
from tests.support.serving_tools import free_port, stop
from tests.support.try_it_browser import try_it

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
TOKEN = "real-model-token"


def _get(url, body=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"},
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def served(tiny_run, tmp_path):
    """`privrec serve --rest-port` on the pushed model with a tokens file: (REST URL, process)."""
    config, *_ = tiny_run
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    rest_port, log_path = free_port(), tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "privrec.app.cli", "serve",
             "--serving-root", os.path.dirname(config.push_dir), "--model-name",
             config.model_name, "--port", str(free_port()), "--rest-port", str(rest_port),
             "--tokens-file", str(tokens)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{rest_port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                _get(f"{url}/v1/models/{config.model_name}/catalog")
                break
            except OSError:  # not listening yet, no version yet (404), or still warming up
                assert time.monotonic() < deadline and process.poll() is None, \
                    log_path.read_text()[-3000:]
                time.sleep(0.5)
        yield url, config.model_name, process
    finally:
        stop(process)


@pytest.mark.heavy
def test_try_it_page_on_the_pushed_model(served):
    url, model, process = served
    catalog = {item["item_id"]: item["title"]
               for item in _get(f"{url}/v1/models/{model}/catalog")["items"]}
    viewed = sorted(catalog)[:2]
    query = "noise cancelling headphones, call me on 13812345678"
    with try_it(url + "/ui") as page:
        page.open().use_token(TOKEN)
        assert page.wait_status("Ready") == f"Ready: {len(catalog)} catalog items."
        for item_id in viewed:
            page.add_recent(catalog[item_id])
        page.recommend(query)
        expected = _get(f"{url}/v1/models/{model}:predict", {"instances": [
            {"user_id": "", "query": query, "recent_item_ids": " ".join(viewed)}]})
        expected = expected["predictions"][0]
        shown = page.results()
        assert len(shown) == len(expected["item_ids"]) >= 5
        assert shown == [(catalog[i], i, round(s, 4))
                         for i, s in zip(expected["item_ids"], expected["scores"])]
        assert page.masked() == "noise cancelling headphones, call me on [PHONE]"
        assert page.marked() == ["[PHONE]"]
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "try-it.png")
        page.page.screenshot(path=shot, full_page=True)
        assert page.page_errors == [] and page.console_errors == []

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert page.recommend("kettle").startswith("Cannot reach the model server")
        assert page.page_errors == []
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
