"""Delta jars: cached in .cache/jars, resolved through the user's Maven/Ivy set-up, one clear line when nothing works.

Every source is exercised for real and without the internet: a Maven-layout repository under tmp holds
copies of the real jars with one extra entry naming the repository (so a test can tell which repository
a cached jar came from), and each test points HOME, mvn (`-Duser.home`), Spark (`SPARK_CONF_DIR`,
`SPARK_SUBMIT_OPTS`) and the jar cache at tmp, so nothing of the user's ~/.m2 or ~/.ivy2 is used
unless a test borrows it explicitly (the mvn tests borrow the dependency plugin, read-only).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.medallion_testing import REPO
from framework.engine import jars

MARKER = "META-INF/medallion-test-repository.txt"
PLUGIN = Path("org/apache/maven/plugins/maven-dependency-plugin")


@pytest.fixture(scope="module")
def real_jars() -> list[Path]:
    """The project's own cached jars (what `make setup` put in .cache/jars), resolved before any test isolates."""
    return jars.ensure_jars()


@pytest.fixture(scope="module")
def maven_repository_with_plugin() -> Path:
    """The user's local Maven repository holding the dependency plugin (mvn cannot run without it, and
    getting it needs the network), or a skip: tests may not download anything."""
    if not shutil.which("mvn"):
        pytest.skip("mvn is not installed")
    for repository in jars.local_repositories():
        if (repository / PLUGIN).is_dir():
            return repository
    pytest.skip("maven-dependency-plugin is not in the local Maven repository (run `make setup` with mvn once)")


def build_repository(root: Path, real: list[Path], name: str) -> Path:
    """A Maven-layout repository holding real copies of the Delta jars, each with an entry naming `name`."""
    for artifact, jar in zip(jars.ARTIFACTS, real):
        target = root / artifact.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(jar, target)
        with zipfile.ZipFile(target, "a") as archive:
            archive.writestr(MARKER, name)
        target.with_name(target.name + ".sha1").write_text(hashlib.sha1(target.read_bytes()).hexdigest())
        target.with_suffix(".pom").write_text(
            f"<project><modelVersion>4.0.0</modelVersion><groupId>{artifact.group}</groupId>"
            f"<artifactId>{artifact.name}</artifactId><version>{artifact.version}</version></project>\n")
    return root


def mirror_of(local_repository: Path, root: Path, delta_from: Path | None) -> Path:
    """A file:// repository showing the user's local repository (plugins) read-only through symlinks, with
    io/delta replaced by `delta_from`'s (or absent)."""
    root.mkdir(parents=True)
    for entry in local_repository.iterdir():
        if entry.name != "io":
            (root / entry.name).symlink_to(entry)
    (root / "io").mkdir()
    if (local_repository / "io").is_dir():
        for entry in (local_repository / "io").iterdir():
            if entry.name != "delta":
                (root / "io" / entry.name).symlink_to(entry)
    if delta_from:
        shutil.copytree(delta_from / "io" / "delta", root / "io" / "delta")
    return root


def came_from(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(MARKER).decode()


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """An empty home for Python, mvn and Spark, an empty jar cache, no forced repository, no Spark conf."""
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (tmp_path / "spark-conf").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MAVEN_OPTS", f"-Duser.home={home}")
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", f"-Duser.home={home}")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "spark-conf"))
    monkeypatch.setenv("MEDALLION_JAR_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(jars.REPOSITORY_ENV, raising=False)
    return home


def maven_settings(home: Path, mirror: Path, mirror_of: str = "*") -> None:
    (home / ".m2" / "settings.xml").write_text(
        f"<settings><mirrors><mirror><id>test-mirror</id><mirrorOf>{mirror_of}</mirrorOf>"
        f"<url>{mirror.as_uri()}</url></mirror></mirrors></settings>\n")


def ivy_settings(tmp_path: Path, repository: Path) -> None:
    """spark-defaults.conf pointing Spark at an Ivy settings file whose only resolver is `repository`."""
    settings = tmp_path / "ivysettings.xml"
    settings.write_text(f'<ivysettings><settings defaultResolver="test-files"/><resolvers>'
                        f'<ibiblio name="test-files" m2compatible="true" root="{repository.as_uri()}/"/>'
                        f'</resolvers></ivysettings>\n')
    (tmp_path / "spark-conf" / "spark-defaults.conf").write_text(f"spark.jars.ivySettings {settings}\n")


# --- the project's own cache -------------------------------------------------------------------------------


def test_the_cached_jars_are_the_pinned_delta_release(real_jars):
    assert [p.name for p in real_jars] == ["delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"]
    assert all(p.stat().st_size > 50_000 and zipfile.is_zipfile(p) for p in real_jars)
    assert jars.jar_conf() == {"spark.jars": ",".join(str(p) for p in real_jars)}


def test_setup_command_reports_ready_in_one_line():
    result = subprocess.run([sys.executable, "-m", "framework.engine.jars"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "Delta Lake 4.4.0 jars ready in .cache/jars" in result.stdout


# --- source 1: the local Maven repository --------------------------------------------------------------------


def test_missing_jars_are_copied_from_the_local_maven_repository(isolated, real_jars, tmp_path):
    build_repository(isolated / ".m2" / "repository", real_jars, "home-m2")
    paths = jars.ensure_jars()
    assert [p.parent for p in paths] == [tmp_path / "cache"] * 2
    assert [came_from(p) for p in paths] == ["home-m2", "home-m2"]
    assert paths[0].read_bytes() == (isolated / ".m2" / "repository" / jars.ARTIFACTS[0].relative_path).read_bytes()


def test_the_local_repository_of_maven_settings_is_honoured(isolated, real_jars, tmp_path):
    build_repository(isolated / "elsewhere", real_jars, "settings-local-repository")
    (isolated / ".m2" / "settings.xml").write_text(  # namespaced, as real settings files are
        '<settings xmlns="urn:test-settings"><localRepository>${user.home}/elsewhere</localRepository></settings>\n')
    assert jars.local_repositories()[0] == isolated / "elsewhere"
    assert [came_from(p) for p in jars.ensure_jars()] == ["settings-local-repository"] * 2


def test_a_corrupt_local_copy_is_not_cached(isolated, real_jars, tmp_path):
    repository = build_repository(isolated / ".m2" / "repository", real_jars, "corrupt")
    jar = repository / jars.ARTIFACTS[1].relative_path
    jar.write_bytes(jar.read_bytes()[:-10])  # truncated: its .sha1 no longer matches
    folder = tmp_path / "cache"
    folder.mkdir()
    reason = jars.copy_from_local_repository(jars.ARTIFACTS, folder)
    assert reason and "delta-storage-4.4.0.jar is corrupt" in reason
    assert jars.cached_jars(folder) is None and not (folder / jars.ARTIFACTS[1].file_name).exists()


# --- source 2: mvn dependency:copy ---------------------------------------------------------------------------


def test_mvn_resolves_through_the_mirror_of_maven_settings(isolated, real_jars, tmp_path, maven_repository_with_plugin):
    delta = build_repository(tmp_path / "delta", real_jars, "settings-mirror")
    maven_settings(isolated, mirror_of(maven_repository_with_plugin, tmp_path / "mirror", delta))
    paths = jars.ensure_jars()
    assert [came_from(p) for p in paths] == ["settings-mirror"] * 2
    assert (isolated / ".m2" / "repository" / jars.ARTIFACTS[0].relative_path).is_file()  # mvn's own local copy


def test_mvn_uses_the_forced_repository(isolated, real_jars, tmp_path, maven_repository_with_plugin, monkeypatch):
    forced = build_repository(tmp_path / "forced", real_jars, "forced-for-mvn")
    maven_settings(isolated, mirror_of(maven_repository_with_plugin, tmp_path / "mirror", None), mirror_of="central")
    monkeypatch.setenv(jars.REPOSITORY_ENV, forced.as_uri())
    assert [came_from(p) for p in jars.ensure_jars()] == ["forced-for-mvn"] * 2
    tracking = isolated / ".m2" / "repository" / "io/delta/delta-storage/4.4.0/_remote.repositories"
    assert jars.FORCED_REPOSITORY_ID in tracking.read_text()


def test_a_missing_mvn_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert jars.copy_with_maven(jars.ARTIFACTS, tmp_path) == "`mvn` is not installed"


# --- source 3: Spark's own resolution (Ivy) -------------------------------------------------------------------


def test_spark_resolves_through_its_ivy_settings_when_mvn_fails(isolated, real_jars, tmp_path):
    maven_settings(isolated, tmp_path / "empty-mirror")  # mvn (if installed) finds nothing, not even its plugin
    ivy_settings(tmp_path, build_repository(tmp_path / "ivy-repo", real_jars, "spark-ivy-settings"))
    paths = jars.ensure_jars()
    assert [came_from(p) for p in paths] == ["spark-ivy-settings"] * 2
    assert jars.jar_conf() == {"spark.jars": ",".join(str(p) for p in paths)}
    assert not (tmp_path / "cache" / ".ivy").exists()  # the Ivy copy is dropped once the jars are cached


@pytest.mark.slow
def test_spark_uses_the_forced_repository(isolated, real_jars, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    ivy_settings(tmp_path, tmp_path / "empty")
    forced = build_repository(tmp_path / "forced", real_jars, "forced-for-spark")
    monkeypatch.setenv(jars.REPOSITORY_ENV, forced.as_uri())
    folder = tmp_path / "cache"
    folder.mkdir()
    assert jars.copy_with_spark(jars.ARTIFACTS, folder) is None
    assert [came_from(p) for p in jars.cached_jars(folder) or []] == ["forced-for-spark"] * 2


# --- nothing works -------------------------------------------------------------------------------------------


def test_when_every_source_fails_one_line_says_what_was_tried_and_how_to_configure_a_mirror(isolated, tmp_path):
    (tmp_path / "empty").mkdir()
    maven_settings(isolated, tmp_path / "empty")
    ivy_settings(tmp_path, tmp_path / "empty")
    result = subprocess.run([sys.executable, "-m", "framework.engine.jars"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    message = result.stderr
    assert message.count("\n") == 1
    assert message.startswith("error: could not get the Delta jars "
                              "io.delta:delta-spark_4.2_2.13:4.4.0, io.delta:delta-storage:4.4.0 (tried ")
    assert "local Maven repository: not in ~/.m2/repository" in message
    if shutil.which("mvn"):
        assert "mvn: `mvn dependency:copy` failed: " in message
    else:
        assert "mvn: `mvn` is not installed" in message
    assert "Spark/Ivy: spark-submit failed: unresolved dependency: io.delta#delta-spark_4.2_2.13;4.4.0: not found" in message
    for advice in ("~/.m2/settings.xml", jars.REPOSITORY_ENV, "spark.jars.repositories", "spark.jars.ivySettings"):
        assert advice in message
    assert jars.cached_jars() is None


def test_a_session_without_jars_gets_the_setup_error_not_a_late_ivy_attempt(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn, and spark-submit cannot start either
    with pytest.raises(jars.SetupError, match=r"could not get the Delta jars .*mvn: `mvn` is not installed; "
                                              r"Spark/Ivy: spark-submit failed"):
        jars.jar_conf()


def test_a_forced_repository_must_be_a_url_and_its_credentials_never_show(monkeypatch):
    monkeypatch.setenv(jars.REPOSITORY_ENV, "builder:s3cret@mirror.example/releases")
    with pytest.raises(jars.SetupError, match=jars.REPOSITORY_ENV) as failure:
        jars.forced_repository()
    assert "s3cret" not in str(failure.value)
    assert jars.redact_credentials("Could not transfer from https://builder:s3cret@mirror.example/x") == \
        "Could not transfer from https://***@mirror.example/x"


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(jars.SetupError, match=r"Java 17\+ is required .* `java` was not found"):
        jars.java_version()
