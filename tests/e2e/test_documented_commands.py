"""The commands the README and docs/ show are the commands that work.

A shell block preceded by the line `<!-- runnable -->` is runnable: the heavy test runs every such
block of README.md and then docs/*.md (in file-name order), in order, as one bash script with
`set -euo pipefail` in an empty directory laid out like the repository's root, on the tiny shop.
The fast tests read every shell block, runnable or not: each command of a runnable block must
exist, and each `privrec` sub-command and flag, and each flag given to a repository script, must be
one its argument parser (or source) knows, so a renamed flag fails the default suite too.
"""
import argparse
import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.support.serving_tools import free_port

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- runnable -->"
SHELL_FENCES = ("```sh", "```bash", "```shell")
DOC_FILES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
VENV_BIN = Path(sys.executable).parent
# Repository paths the documented commands name relative to the repository's root.
REPO_ENTRIES = ("components", "pipeline", "bench", "serving")
# The ports the docs use; the heavy test swaps in free ones (other processes may hold these).
DOC_PORTS = ("8500", "8501")
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "while", "until", "do", "done", "for",
                  "in", "case", "esac", "!", "{", "}", "time"}
OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&", "\n"}


@dataclasses.dataclass
class Block:
    path: Path
    line: int            # 1-based line of the block's first command
    text: str
    runnable: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def shell_blocks() -> Iterator[Block]:
    """Every ```sh block of the README and docs/, with whether the marker line precedes it."""
    for path in DOC_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            stripped = lines[index].strip()
            if stripped == MARKER:
                following = lines[index + 1].strip() if index + 1 < len(lines) else ""
                assert following in SHELL_FENCES, (
                    f"{path.relative_to(REPO)}:{index + 1}: {MARKER} must be followed by a "
                    f"```sh block, not {following!r}")
            if stripped.startswith("```"):
                end = next(k for k in range(index + 1, len(lines))
                           if lines[k].strip() == "```")
                if stripped in SHELL_FENCES:
                    runnable = index > 0 and lines[index - 1].strip() == MARKER
                    yield Block(path, index + 2, "\n".join(lines[index + 1:end]), runnable)
                index = end + 1
                continue
            index += 1


def runnable_blocks() -> List[Block]:
    return [block for block in shell_blocks() if block.runnable]


def strip_comments(text: str) -> str:
    """The text without shell comments (a `#` starting a word outside quotes, to the line's end)."""
    kept, quote, index = [], None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                kept.append(char)
                index += 1
                char = text[index]
        elif char in "'\"":
            quote = char
        elif char == "\\":
            kept.append(char)
            index += 1
            char = text[index]
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n"):
            while index < len(text) and text[index] != "\n":
                index += 1
            continue
        kept.append(char)
        index += 1
    return "".join(kept)


def commands(text: str) -> List[List[str]]:
    """The simple commands of a shell text, each as its words (assignments and keywords
    dropped), including those inside $( … )."""
    text = strip_comments(text).replace("\\\n", " ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace = " \t\r"   # newlines separate commands
    lexer.commenters = ""        # stripped above: shlex would swallow the newline ending one
    lexer.wordchars += "$%{}:,@+=/.-~*?[]^#"
    result, current = [], []
    for token in lexer:
        if token in OPERATORS or token == "$":
            if current:
                result.append(current)
            current = []
            continue
        if not current and (token in SHELL_KEYWORDS or re.fullmatch(r"[A-Za-z_]\w*=.*", token)):
            continue
        current.append(token)
    if current:
        result.append(current)
    return result


def _privrec_parsers():
    from privrec.app import cli
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction))
    return subparsers.choices


def _flags(words: List[str]) -> List[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("--")]


def _privrec_words(command: List[str]) -> bool:
    return os.path.basename(command[0]) == "privrec"


def test_documents_have_runnable_blocks_in_a_usable_order():
    blocks = runnable_blocks()
    assert blocks, "no shell block is marked runnable"
    assert blocks[0].path.name == "README.md", "the README's quick start runs first"
    first = [" ".join(words) for block in blocks[:1] for words in commands(block.text)]
    assert any("privrec keygen" in line for line in first), first
    assert any(line.startswith("export PRIVREC_PSEUDONYM_KEY_FILE") for line in first), first


def test_every_command_of_a_runnable_block_exists():
    path = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
    for block in runnable_blocks():
        for words in commands(block.text):
            found = subprocess.run(["bash", "-c", 'type -t "$1"', "bash", words[0]],
                                   env={**os.environ, "PATH": path},
                                   capture_output=True, text=True)
            assert found.stdout.strip() in ("builtin", "file", "keyword"), (
                f"{block.where}: {words[0]!r} is not a command")


def inline_privrec_commands() -> Iterator[Block]:
    """`privrec …` in running text (the CLI table, prose), each as a one-command block."""
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"(?<!`)`((?:\.venv/bin/)?privrec [^`]+)`(?!`)", text):
            line = text.count("\n", 0, match.start()) + 1
            yield Block(path, line, match.group(1), runnable=False)


def test_every_privrec_command_and_flag_in_the_docs_exists():
    parsers = _privrec_parsers()
    checked = 0
    for block in [*shell_blocks(), *inline_privrec_commands()]:
        for words in commands(block.text):
            if not _privrec_words(words) or words[1:2] in (["--help"], ["-h"]) or \
                    (len(words) > 1 and words[1].startswith("<")):
                continue
            assert len(words) > 1 and words[1] in parsers, (
                f"{block.where}: `privrec {words[1] if len(words) > 1 else ''}` is not a "
                f"sub-command ({', '.join(parsers)})")
            known = parsers[words[1]]._option_string_actions
            for flag in _flags(words[2:]):
                assert flag in known, (
                    f"{block.where}: `privrec {words[1]}` has no flag {flag}")
            checked += 1
    assert checked >= 30, checked


def test_every_script_and_its_flags_in_the_docs_exist():
    """`python bench/x.py --flag`: the script exists and its source declares the flag."""
    checked = 0
    for block in shell_blocks():
        for words in commands(block.text):
            if os.path.basename(words[0]) not in ("python", "python3"):
                continue
            script = next((word for word in words[1:] if word.endswith(".py")), None)
            if script is None:
                continue
            source = (REPO / script).read_text(encoding="utf-8") \
                if (REPO / script).is_file() else None
            assert source is not None, f"{block.where}: {script} does not exist"
            for flag in _flags(words[words.index(script) + 1:]):
                assert f'"{flag}"' in source or f"'{flag}'" in source, (
                    f"{block.where}: {script} declares no {flag}")
            checked += 1
    assert checked >= 3, checked


def test_the_command_parser_reads_the_shell_the_docs_use():
    words = commands('version=$(ls out/serving/privrec | sort -n | tail -n 1)\n'
                     'until curl -s http://x | grep -q AVAILABLE; do sleep 1; done\n'
                     'privrec run --size tiny \\\n    --work-dir w   # a comment --no\n'
                     'test -f k || privrec keygen k\nkill %1')
    assert [w[0] for w in words] == ["ls", "sort", "tail", "curl", "grep", "sleep", "privrec",
                                     "test", "privrec", "kill"], words
    assert words[6] == ["privrec", "run", "--size", "tiny", "--work-dir", "w"]


@pytest.mark.heavy
def test_runnable_blocks_run_in_order_on_the_tiny_shop(tmp_path):
    for entry in REPO_ENTRIES:
        os.symlink(REPO / entry, tmp_path / entry)
    script = ["set -euo pipefail"]
    for block in runnable_blocks():
        text = block.text
        for port in DOC_PORTS:
            text = re.sub(rf"\b{port}\b", str(free_port()), text)
        script += [f"echo {shlex.quote('### ' + block.where)}", text]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PRIVREC_")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    process = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=2400)
    finally:
        try:  # a server a failed block left behind
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    blocks_run = re.findall(r"### (\S+\.md:\d+)$", output, flags=re.MULTILINE)
    assert process.returncode == 0, (
        f"documented commands failed in {blocks_run[-1] if blocks_run else '?'} "
        f"(exit {process.returncode}):\n{output[-6000:]}")
    assert len(blocks_run) == len(runnable_blocks())
    assert re.search(r"^blessed\s*:\s*yes", output, flags=re.MULTILINE), output[-3000:]
    assert (tmp_path / "tiny-shop" / "report" / "index.html").is_file()
    assert re.search(r"^ 1\. p\d{5}", output, flags=re.MULTILINE), output[-3000:]  # recommend
    assert '"predictions"' in output                                               # REST
    versions = [path.name for path in (tmp_path / "tiny-shop" / "serving" / "privrec").iterdir()
                if path.name.isdigit()]
    assert len(versions) == 2, versions   # the run's and the fine-tuned one pushed beside it


# The repository's own top-level folders and files, not what runs create beside them (out/,
# which `make run` writes and the docs name as a place to look).
GENERATED = {"out", "build", "test-artifacts"}
TOP_LEVEL = {entry.name for entry in REPO.iterdir()
             if not entry.name.startswith(".") and entry.name not in GENERATED}


def _anchors(path: Path) -> set:
    """GitHub's heading anchors of a markdown file."""
    anchors = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_repository_path_and_link_in_the_docs_exists():
    """`trainer/model.py`-like paths name files that exist; links point at files and headings
    that exist, so a moved module or a renamed section shows up here."""
    missing = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"`([A-Za-z_][\w.\-/]*/[\w.\-/]*)(?:::[\w\[\]-]+)?`", text):
            name = match.group(1)
            if name.split("/")[0] in TOP_LEVEL and not (REPO / name).exists():
                missing.append(f"{path.relative_to(REPO)}: `{name}`")
        for match in re.finditer(r"\]\(([^)\s]+)\)", text):
            target = match.group(1)
            if re.match(r"[a-z]+://", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                missing.append(f"{path.relative_to(REPO)}: link {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                missing.append(f"{path.relative_to(REPO)}: link {target} (no such heading)")
    if missing:
        pytest.fail("\n".join(missing))
