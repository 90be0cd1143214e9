"""Delta Lake jars for the local runtime: fetched once from Maven Central, cached in `.cache/jars/`.

pip's `delta-spark` ships only the Python half of Delta; the JVM half (`delta-spark_<spark>_<scala>`
and `delta-storage`) must be on Spark's classpath. Resolving them through `spark.jars.packages` at
every session start costs seconds and needs the network each time Ivy's cache is cold, so we copy the
two jars into a git-ignored folder once (from the local Maven repository, with `mvn`, or straight from
Maven Central with its SHA-1 checked) and pass them with `spark.jars`.

`python -m framework.engine.jars` (run by `make setup`) does this and prints one line.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from framework.errors import SetupError

DELTA_VERSION = "4.4.0"
"""delta-spark 4.4.0 is the newest release whose jar Maven Central serves for Spark 4.2 (4.4.1 is not there)."""
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
MIN_JAVA = 17


@dataclass(frozen=True)
class Artifact:
    group: str
    name: str
    version: str

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}.jar"

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"

    @property
    def relative_path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.file_name}"


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("io.delta", "delta-spark_4.2_2.13", DELTA_VERSION),
    Artifact("io.delta", "delta-storage", DELTA_VERSION),
)


def cache_dir() -> Path:
    """`$MEDALLION_JAR_CACHE`, else `.cache/jars` at the repository root (git-ignored)."""
    override = os.environ.get("MEDALLION_JAR_CACHE")
    return Path(override) if override else Path(__file__).resolve().parents[2] / ".cache" / "jars"


def java_version() -> int:
    """The major version of the `java` Spark will start (JAVA_HOME first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise SetupError(f"Java {MIN_JAVA}+ is required for the local Spark runtime but `java` was not found "
                         "(install a JDK, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise SetupError(f"could not read the Java version from `{java} -version`")
    major = int(match.group(1))
    major = int(match.group(2)) if major == 1 and match.group(2) else major
    if major < MIN_JAVA:
        raise SetupError(f"Java {major} found at {java}; Spark 4 needs Java {MIN_JAVA} or newer")
    return major


def cached_jars(folder: Path | None = None) -> list[Path] | None:
    folder = folder or cache_dir()
    paths = [folder / a.file_name for a in ARTIFACTS]
    return paths if all(p.is_file() and p.stat().st_size > 0 for p in paths) else None


def _from_local_repository(artifact: Artifact, target: Path) -> bool:
    source = Path.home() / ".m2" / "repository" / artifact.relative_path
    if source.is_file():
        shutil.copyfile(source, target)
        return True
    return False


def _with_maven(artifact: Artifact, folder: Path) -> bool:
    mvn = shutil.which("mvn")
    if not mvn:
        return False
    result = subprocess.run([mvn, "-q", "-B", "dependency:copy", f"-Dartifact={artifact.coordinate}:jar",
                             f"-DoutputDirectory={folder}"], capture_output=True, text=True, timeout=600)
    return result.returncode == 0 and (folder / artifact.file_name).is_file()


def _download(artifact: Artifact, target: Path) -> bool:
    """Straight from Maven Central, checked against the published SHA-1 and written atomically."""
    url = f"{MAVEN_CENTRAL}/{artifact.relative_path}"
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=60) as response:
            expected = response.read().decode().split()[0].strip()
        with urllib.request.urlopen(url, timeout=300) as response:
            payload = response.read()
    except OSError:
        return False
    if hashlib.sha1(payload).hexdigest() != expected:
        raise SetupError(f"checksum mismatch for {url}; refusing to use it")
    partial = target.with_name("." + target.name + ".part")
    partial.write_bytes(payload)
    partial.replace(target)
    return True


def ensure_jars(folder: Path | None = None) -> list[Path]:
    """The cached jar paths, fetching whatever is missing. Raises SetupError with a one-line reason."""
    folder = folder or cache_dir()
    if found := cached_jars(folder):
        return found
    folder.mkdir(parents=True, exist_ok=True)
    for artifact in ARTIFACTS:
        target = folder / artifact.file_name
        if target.is_file() and target.stat().st_size > 0:
            continue
        if not (_from_local_repository(artifact, target) or _with_maven(artifact, folder)
                or _download(artifact, target)):
            raise SetupError(f"could not get {artifact.coordinate} (no ~/.m2 copy, `mvn` failed or is missing, and "
                             f"{MAVEN_CENTRAL} is unreachable); copy {artifact.file_name} into {folder}")
    return cached_jars(folder) or []


def jar_conf() -> dict[str, str]:
    """Spark settings that put Delta on the classpath: cached jars, else Ivy resolution as a last resort."""
    try:
        return {"spark.jars": ",".join(str(p) for p in ensure_jars())}
    except SetupError:
        return {"spark.jars.packages": ",".join(a.coordinate for a in ARTIFACTS)}


def main() -> int:
    try:
        version = java_version()
        jars = ensure_jars()
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    where = cache_dir()
    try:
        where = where.relative_to(Path.cwd())
    except ValueError:
        pass
    print(f"Delta Lake {DELTA_VERSION} jars ready in {where} ({', '.join(p.name for p in jars)}; Java {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
