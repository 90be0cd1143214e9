"""Delta jars: cached in .cache/jars, fetched from a Maven repository, clear messages when something is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from medallion_testing import REPO
from framework.engine import jars


def test_the_cached_jars_are_the_pinned_delta_release():
    paths = jars.ensure_jars()
    assert [p.name for p in paths] == ["delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"]
    assert all(p.stat().st_size > 50_000 for p in paths)
    assert jars.jar_conf() == {"spark.jars": ",".join(str(p) for p in paths)}


def test_setup_command_reports_ready_in_one_line():
    result = subprocess.run([sys.executable, "-m", "framework.engine.jars"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "Delta Lake 4.4.0 jars ready in .cache/jars" in result.stdout


def test_missing_jars_are_copied_from_the_local_maven_repository(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for artifact in jars.ARTIFACTS:
        source = home / ".m2" / "repository" / artifact.relative_path
        source.parent.mkdir(parents=True)
        source.write_bytes(b"PK\x03\x04" + artifact.name.encode() * 1000)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MEDALLION_JAR_CACHE", str(tmp_path / "cache"))
    paths = jars.ensure_jars()
    assert [p.parent for p in paths] == [tmp_path / "cache"] * 2
    assert paths[1].read_bytes().startswith(b"PK\x03\x04delta-storage")


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(jars.SetupError, match=r"Java 17\+ is required .* `java` was not found"):
        jars.java_version()


def test_an_unreachable_repository_says_where_to_put_the_jars(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn
    monkeypatch.setenv("MEDALLION_JAR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(jars, "MAVEN_CENTRAL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(jars.SetupError, match="could not get io.delta:delta-spark_4.2_2.13:4.4.0"):
        jars.ensure_jars()
    assert jars.jar_conf() == {"spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0,io.delta:delta-storage:4.4.0"}
