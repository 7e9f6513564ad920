"""The import layers of pyproject.toml's [tool.importlinter], checked by `lint-imports`."""
import os
import shutil
import subprocess
import sys

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = os.path.join(REPO, "pyproject.toml")
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")


def _lint_imports(tree: str) -> subprocess.CompletedProcess:
    """`lint-imports` with the repository's contracts over the packages under `tree`."""
    return subprocess.run(
        [LINT_IMPORTS, "--config", PYPROJECT, "--no-cache", "--no-logo"], cwd=tree,
        capture_output=True, text=True, timeout=300)


def _contracts():
    with open(PYPROJECT, "rb") as f:
        linter = tomllib.load(f)["tool"]["importlinter"]
    return linter, {contract["id"]: contract for contract in linter["contracts"]}


def test_the_tree_keeps_every_contract():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_core_layer_is_privrec_but_the_roof():
    """The cross-package layers name the core module by module; privrec's own contract is
    exhaustive, so a new privrec module must be declared there, and here the two lists agree."""
    _, contracts = _contracts()
    core_layer = contracts["layers"]["layers"][-1]
    core = {name.strip() for name in core_layer.split(":")}
    roof, privrec_core = contracts["privrec-core"]["layers"]
    assert roof == "app"
    assert core == {f"privrec.{name.strip()}" for name in privrec_core.split(":")}


def _copy_packages(destination: str) -> None:
    linter, _ = _contracts()
    for package in linter["root_packages"]:
        shutil.copytree(os.path.join(REPO, package), os.path.join(destination, package),
                        ignore=lambda folder, names: [
                            n for n in names if not n.endswith(".py")
                            and not os.path.isdir(os.path.join(folder, n))] + ["__pycache__"])


@pytest.mark.parametrize("module, upward_import, contract", [
    ("serving/client.py", "from pipeline import configs", "serving depends only on the core"),
    ("privrec/data/schema.py", "from trainer import export", "layers, top to bottom"),
    ("privrec/contract.py", "from privrec.app import cli", "privrec: app is the roof"),
    ("privrec/__init__.py", "from serving import client", "the runtime switches"),
    ("components/model_card/card.py", "from trainer import export", "layers, top to bottom"),
    ("trainer/catalog.py", "from components.masking import policy", "layers, top to bottom"),
    ("components/masking/policy.py", "from components.model_card import card", "components:"),
    ("components/inventory/files.py", "from components.validation import anomalies",
     "components:"),
    ("pipeline/configs.py", "from audit import run", "layers, top to bottom"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, upward_import, contract):
    _copy_packages(str(tmp_path))
    with open(tmp_path / module, "a", encoding="utf-8") as f:
        f.write(f"\n{upward_import}  # planted\n")
    result = _lint_imports(str(tmp_path))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    importer = module[:-len(".py")].replace("/", ".")
    assert importer.removesuffix(".__init__") + " -> " in broken
