"""Core's entry-point reader agrees with importlib.metadata on real distribution folders."""

from __future__ import annotations

import importlib.metadata
import zipfile
from pathlib import Path

from plugin_dists import write_dist

from memscreen_llm._entrypoints import entry_points, normalise

GROUP = "memscreen.llm_backends"


def reference(paths: list[str]) -> list[tuple[str, str, str | None, str | None]]:
    """What importlib.metadata reports for the same path (first distribution of a name wins)."""
    seen: set[str] = set()
    out = []
    for dist in importlib.metadata.distributions(path=paths):
        key = normalise(dist.metadata["Name"])
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if ep.group == GROUP:
                out.append((ep.name, ep.value, dist.metadata["Name"], dist.version))
    return out


def ours(paths: list[str]) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.name, e.value, e.distribution, e.version) for e in entry_points(GROUP, paths)]


def test_same_entry_points_as_importlib_metadata(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_dist(first, "Plugin_One", "one", "mod_one", "", version="1.2")
    write_dist(first, "plugin-two", "two", "mod_two", "", version="2.0")
    write_dist(second, "plugin-one", "one", "mod_one_old", "", version="0.9")  # shadowed
    write_dist(second, "plugin-three", "three", "mod_three", "", version="3.0")
    extra = second / "plugin_three-3.0.dist-info" / "entry_points.txt"
    extra.write_text("# a comment\n[console_scripts]\nthree = mod_three:main\n\n"
                     "[memscreen.llm_backends]\nthree = mod_three\nthree-b = mod_three:plugin\n")
    legacy = second / "legacy.egg-info"
    legacy.mkdir()
    (legacy / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.1\n")
    (legacy / "entry_points.txt").write_text("[memscreen.llm_backends]\nlegacy = legacy_mod\n")
    paths = [str(first), str(second), str(tmp_path / "missing")]
    assert sorted(ours(paths)) == sorted(reference(paths))
    assert ("one", "mod_one", "Plugin_One", "1.2") in ours(paths)
    assert not any(value == "mod_one_old" for _, value, _, _ in ours(paths))


def test_zipped_path_entries_are_read_too(tmp_path: Path) -> None:
    folder = tmp_path / "z"
    write_dist(folder, "zipped-plugin", "zipped", "zmod", "", version="4.0")
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(folder).as_posix())
    assert ours([str(archive)]) == [("zipped", "zmod", "zipped-plugin", "4.0")]


def test_the_whole_sys_path_matches() -> None:
    import sys

    assert sorted(ours(sys.path)) == sorted(reference(sys.path))
