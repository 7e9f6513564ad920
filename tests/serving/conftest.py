"""Fixtures of the serving tests: small SavedModels under a base path (tests/support/
echo_model.py, tests/support/catalog_model.py), and servers of them."""
import os

import pytest

from serving import auth, server
from tests.support import catalog_model, echo_model, serving_tools


@pytest.fixture(scope="session")
def catalog_base_path(tmp_path_factory):
    """<base path> holding version 1 of the small model with privrec's serving contract."""
    path = str(tmp_path_factory.mktemp("catalog_model") / "privrec")
    catalog_model.save(path, version=1)
    return path


@pytest.fixture(scope="module")
def base_path(tmp_path_factory):
    """<base path>/1: the echo model."""
    path = tmp_path_factory.mktemp("serving") / echo_model.MODEL
    echo_model.save(str(path / "1"))
    return str(path)


@pytest.fixture(scope="module")
def slow_base_path(tmp_path_factory):
    """<base path>/1: the slow echo model."""
    path = tmp_path_factory.mktemp("slow") / echo_model.MODEL
    echo_model.save(str(path / "1"), echo_model.SlowEchoModel)
    return str(path)


@pytest.fixture(scope="module")
def one_model(tmp_path_factory):
    """The echo model's SavedModel directory, to copy in as versions."""
    return echo_model.save(str(tmp_path_factory.mktemp("model") / "m"))


@pytest.fixture()
def pushed_base_path(one_model, tmp_path):
    """<tmp_path>/privrec holding version 1 of the echo model, pushed as the Pusher does."""
    base = str(tmp_path / echo_model.MODEL)
    os.makedirs(base)
    serving_tools.push(one_model, base, 1)
    return base


@pytest.fixture()
def rest_with_token(base_path, tmp_path):
    """A fresh server of the echo model with a REST port, its one bearer token 't0ken' read
    from a tokens file."""
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("t0ken\n")
    model_server = server.ModelServer(echo_model.MODEL, base_path, port=0, rest_port=0,
                                      tokens=auth.read_tokens(str(tokens_file)))
    model_server.start()
    yield model_server
    model_server.stop()
