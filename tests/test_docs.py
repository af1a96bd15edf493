"""Docs that stay true: every --flag in a command of a script in README.md and docs/ is a flag
that script defines (asked of the script itself, --helpfull), and every relative link and
image path in them exists."""

import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "BUILD_NOTES.md", *sorted((ROOT / "docs").rglob("*.md"))]
# What a command names -> how to ask it for its flags.
SCRIPTS = {name: [name] for name in ("train.py", "export.py", "colorize.py", "evaluate.py",
                                     "fid.py", "bench.py", "make_tfrecords.py")}
# fid_reference.py runs in a throwaway torch virtualenv (its docstring), not in colorgan's.
SCRIPTS.update({f"scripts/{p.name}": [f"scripts/{p.name}"] for p in (ROOT / "scripts").glob("*.py")
                if p.name != "fid_reference.py"})
SCRIPTS["colorgan.app"] = ["-m", "colorgan.app"]
_NAMES = "|".join(re.escape(n) for n in sorted(SCRIPTS, key=len, reverse=True))
# A script's name, then its arguments up to the end of the command.
_COMMAND = re.compile(rf"(?<![\w/])(?:\.?/?)({_NAMES})\b([^|;&#`\n]*)")
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_-]*)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img [^>]*src=\"([^\"]+)\"")


def commands(markdown: str) -> list[tuple[str, str]]:
    """(script, its arguments) for every command in the fenced blocks and code spans."""
    pieces = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", markdown, flags=re.S):
        pieces.append(block.replace("\\\n", " "))  # continued lines are one command
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    pieces += re.findall(r"`([^`\n]+)`", prose)
    return [(m.group(1), m.group(2)) for piece in pieces for m in _COMMAND.finditer(piece)]


def unknown_flags(markdown: str, defined) -> list[str]:
    """'script --flag' for every flag a command gives that `defined(script)` lacks."""
    bad = []
    for script, args in commands(markdown):
        known = defined(script)
        for flag in _FLAG.findall(args):  # absl also takes --noX for a boolean --X
            if flag not in known and not (flag.startswith("no") and flag[2:] in known):
                bad.append(f"{script} --{flag}")
    return bad


@lru_cache(maxsize=None)
def defined_flags(script: str) -> frozenset[str]:
    """The flags `script --helpfull` lists (absl prints them as --name or --[no]name); for
    the few argparse scripts, read from their add_argument calls (asking them costs a
    TensorFlow import each)."""
    source = (ROOT / script).read_text() if script.endswith(".py") else ""
    if "argparse.ArgumentParser" in source:
        names = set(re.findall(r"add_argument\(\s*\"--([a-z][a-z0-9_-]*)\"", source))
        names |= {f"no-{n}" for n in re.findall(  # argparse's --no-x of a boolean --x
            r"add_argument\(\s*\"--([a-z][a-z0-9_-]*)\"[^)]*BooleanOptionalAction", source)}
        assert names, script
        return frozenset(names | {"help"})
    proc = subprocess.run([sys.executable, *SCRIPTS[script], "--helpfull"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    names = set(re.findall(r"^\s+--(?:\[no\])?([a-z][a-z0-9_]*)", proc.stdout, flags=re.M))
    assert names, (script, proc.stdout[-500:], proc.stderr[-2000:])
    return frozenset(names | {"help", "helpfull", "helpshort"})  # absl's own, never listed


def test_the_flag_check_reads_commands_and_finds_a_wrong_flag():
    text = ("Run\n```sh\n.venv/bin/python train.py --preset=demo \\\n  --bogus_flag=1 "
            "--noflip\n```\nand `colorize.py --format=jpg x.jpg | tee` or "
            "`python -m colorgan.app --port=0`; prose --not_a_command stays prose.")
    assert commands(text)[0][0] == "train.py" and len(commands(text)) == 3
    defined = {"train.py": {"preset", "flip"}, "colorize.py": {"format"},
               "colorgan.app": {"port"}}.__getitem__
    assert unknown_flags(text, defined) == ["train.py --bogus_flag"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_in_a_documented_command_exists(doc):
    assert unknown_flags(doc.read_text(), defined_flags) == []


def test_docs_name_their_commands():
    # The check above is only as good as what it finds: the README's examples are commands.
    found = {script for doc in DOCS for script, _ in commands(doc.read_text())}
    assert {"train.py", "export.py", "colorize.py", "evaluate.py", "colorgan.app"} <= found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_exists(doc):
    missing = []
    for match in _LINK.finditer(doc.read_text()):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if not target or re.match(r"^[a-z]+:", target):  # an anchor, http:, mailto: ...
            continue
        if not (doc.parent / target).exists():
            missing.append(target)
    assert missing == []


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
