"""The docs hold together: relative links resolve, every setting is documented, no outside refs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agent_sessions import settings as settings_module
from agent_sessions.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        ROOT / "clients" / "python" / "README.md",
        ROOT / "clients" / "typescript" / "README.md",
    ]
)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without code, where brackets and parentheses are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(h) for h in HEADING.findall(FENCE.sub("", page.read_text()))}


def _relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_pages_have_relative_links_to_check() -> None:
    """The check below checks something: README links to the docs, and the docs to each other."""
    assert (ROOT / "docs").is_dir()
    links = {str(page.relative_to(ROOT)): _relative_links(page) for page in PAGES}
    assert any(link.startswith("docs/") for link in links["README.md"]), links["README.md"]
    assert sum(len(found) for found in links.values()) >= 10, links


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved.relative_to(ROOT)}")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links\n" + "\n".join(broken)


def test_every_setting_is_in_the_readme_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable Settings.from_env reads has a row in the README's configuration table."""
    read: list[str] = []
    original = settings_module._get

    def recording(env: dict[str, str], name: str, default: str = "") -> str:
        read.append(PREFIX + name)
        return original(env, name, default)

    monkeypatch.setattr(settings_module, "_get", recording)
    Settings.from_env({})
    assert len(read) >= 20, read
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    rows = [line for line in table.splitlines() if line.startswith("| `AGENT_SESSIONS_")]
    documented = {name for row in rows for name in re.findall(r"`(AGENT_SESSIONS_[A-Z_]+)`", row)}
    missing = sorted(set(read) - documented)
    assert not missing, f"settings without a row in README.md's configuration table: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_docs_stand_on_their_own(page: Path) -> None:
    """No pointers to documents outside the repository or to numbered sections of them."""
    text = page.read_text()
    for outside in ("../shared", "CONTRACT", "§"):
        assert outside not in text, f"{page.relative_to(ROOT)} refers to {outside!r}"


def test_no_file_cites_documents_outside_the_repository() -> None:
    """Code, comments and tests say the rule itself: no tracked file points outside the
    repository (`../shared/`) or at numbered sections of a document it does not hold."""
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = []
    for name in files:
        if name.endswith((".json", ".png", ".pb")) or name.startswith("clients/typescript/dist/"):
            continue
        path = ROOT / name
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        if name == "tests/test_docs.py":
            continue
        if "../shared" in text or "CONTRACT §" in text or "CONTRACT.md" in text or "§" in text:
            citing.append(name)
    assert not citing, f"files citing outside documents: {citing}"
