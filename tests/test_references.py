"""`module:function` references to the project's code (framework/references.py): one line, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from framework.errors import UnresolvedReference, UsageError
from framework.references import import_reference


@pytest.fixture
def project(tmp_path: Path):
    package = tmp_path / "refs_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text("VALUE = 3\n\n\ndef run():\n    return 'ran'\n")
    (package / "syntax.py").write_text("def run(:\n    pass\n")
    (package / "raises.py").write_text("raise RuntimeError('boom at import\\nsecond line')\n")
    (package / "missing_dep.py").write_text("import no_such_dependency_xyz\n")
    yield tmp_path
    for name in [m for m in sys.modules if m == "refs_pkg" or m.startswith("refs_pkg.")]:
        del sys.modules[name]
    sys.path.remove(str(tmp_path))


def message(reference: str, root: Path) -> str:
    with pytest.raises(UnresolvedReference) as caught:
        import_reference(reference, root)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_callable_is_imported_from_the_project_root(project):
    assert import_reference("refs_pkg.good:run", project)() == "ran"
    assert sys.path[0] == str(project)


def test_every_way_a_reference_can_fail_is_one_line_naming_it(project):
    assert message("refs_pkg.syntax:run", project).startswith(
        "cannot import `refs_pkg.syntax` (for `refs_pkg.syntax:run`): SyntaxError: ")
    assert message("refs_pkg.raises:run", project) == (
        "cannot import `refs_pkg.raises` (for `refs_pkg.raises:run`): RuntimeError: boom at import")
    assert message("refs_pkg.missing_dep:run", project) == (
        "cannot import `refs_pkg.missing_dep` (for `refs_pkg.missing_dep:run`): No module named 'no_such_dependency_xyz'")
    assert message("refs_pkg.good:nope", project) == "`refs_pkg.good:nope`: module `refs_pkg.good` has no callable `nope`"
    assert message("refs_pkg.good:VALUE", project) == "`refs_pkg.good:VALUE`: module `refs_pkg.good` has no callable `VALUE`"
    assert message("refs_pkg.good", project) == "`refs_pkg.good` is not `module:function`"


def test_an_unresolved_reference_is_a_usage_error_exit_2():
    assert issubclass(UnresolvedReference, UsageError) and UnresolvedReference.exit_code == 2
