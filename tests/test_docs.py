"""The documentation holds: its Python blocks run as written and its links resolve.

Every ```python block of README.md, docs/*.md and benchmarks/README.md runs in a
fresh interpreter, in an empty working folder with its own Keras cache, so a block
that writes files or downloads leaves nothing behind. Blocks not meant to run are
fenced as ```bash, ```text or ```console.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 230
DOCUMENTS = [
    README,
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "benchmarks" / "README.md",
]
BLOCK_TIMEOUT_S = 240

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+).+?\1")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def fenced_blocks(path: Path) -> list[tuple[str, int, str]]:
    """``(language, line of the opening fence, code)`` for each fenced block."""
    blocks, opened, language, start, lines = [], None, "", 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if opened is None:
            if match:
                opened, language, start = match.group(1), match.group(2), number
                lines = []
        elif match and match.group(1).startswith(opened) and not match.group(2):
            blocks.append((language.lower(), start, "\n".join(lines) + "\n"))
            opened = None
        else:
            lines.append(line)
    assert opened is None, f"{path.name}:{start}: a fenced block is never closed"
    return blocks


def prose_lines(path: Path) -> list[str]:
    """The lines outside fenced blocks."""
    lines, fenced = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = FENCE.match(line)
        if fenced is None and match:
            fenced = match.group(1)
        elif fenced is not None:
            if match and match.group(1).startswith(fenced) and not match.group(2):
                fenced = None
        else:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a Markdown file's headings."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose_lines(path):
        match = HEADING.match(line)
        if not match:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = counts.get(slug, 0)
        counts[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


PYTHON_BLOCKS = [
    pytest.param(code, id=f"{path.relative_to(ROOT)}:{line}")
    for path in DOCUMENTS
    if path.is_file()
    for language, line, code in fenced_blocks(path)
    if language in ("python", "py", "python3")
]


@pytest.mark.parametrize("code", PYTHON_BLOCKS)
def test_python_block_runs(code, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    environment = {
        **os.environ,
        "KERAS_HOME": str(tmp_path / "keras"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    try:
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=work,
            env=environment,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"The block ran past {BLOCK_TIMEOUT_S} s:\n{code}\n{expired}")
    assert result.returncode == 0, (
        f"The block exited with {result.returncode}:\n{code}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-6000:]}"
    )


def test_python_blocks_exist():
    assert PYTHON_BLOCKS, "no ```python block found in the documentation"


def test_readme_is_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it at most {README_MAX_LINES} and move "
        "reference material to docs/"
    )


def test_readme_states_the_install_and_test_commands():
    # .ci/run runs the install and test commands README gives.
    text = README.read_text(encoding="utf-8")
    assert 'pip install -e ".[test]"' in text
    assert "pytest" in text


@pytest.mark.parametrize(
    "path",
    [path for path in DOCUMENTS if path.is_file()],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_relative_links_resolve(path):
    broken = []
    for line in prose_lines(path):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{target} (no such file: {linked})")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target} (no heading gives #{anchor} in {linked.name})")
    assert not broken, f"{path.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_readme_says_which_backends_the_test_extra_tests():
    # setup.cfg's test extra, as pip reads it.
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extra = config["options.extras_require"]["test"].split()
    installed = [name for name in ("tensorflow", "jax", "torch") if name in extra]
    text = " ".join(README.read_text(encoding="utf-8").split())
    if installed:
        pytest.fail(f"update README's Backends section: the extra installs {installed}")
    # The extra brings no other backend (TensorFlow comes with the package), so
    # README must not promise the tests on three backends from it, and must say
    # how the others get tested.
    assert "The test extra installs TensorFlow only" in text
    assert "again on JAX and PyTorch where they are installed" in text
    assert "tests run on all three" not in text
