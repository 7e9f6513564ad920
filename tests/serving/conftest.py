"""Fixtures of the serving tests."""
import pytest

from tests.support import catalog_model


@pytest.fixture(scope="session")
def catalog_base_path(tmp_path_factory):
    """<base path> holding version 1 of the small model with privrec's serving contract."""
    path = str(tmp_path_factory.mktemp("catalog_model") / "privrec")
    catalog_model.save(path, version=1)
    return path
