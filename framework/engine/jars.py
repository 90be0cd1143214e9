"""Delta Lake jars for the local runtime: resolved once through the user's own Maven/Ivy set-up, cached in `.cache/jars/`.

pip's `delta-spark` ships only the Python half of Delta; the JVM half (`delta-spark_<spark>_<scala>`
and `delta-storage`) must be on Spark's classpath. Resolving them through `spark.jars.packages` at
every session start costs seconds and needs the network each time Ivy's cache is cold, so we copy the
two jars into a git-ignored folder once and pass them with `spark.jars`.

This module never names a repository itself: a company mirror or proxy is configured where the user's
tools already look. The sources, tried in order until both jars are there:

1. the local Maven repository (`-Dmaven.repo.local` in `MAVEN_OPTS`, `<localRepository>` of
   `~/.m2/settings.xml`, `~/.m2/repository`) — no network at all;
2. `mvn dependency:copy`, which honours the mirrors, proxies and credentials of `~/.m2/settings.xml`;
3. Spark's own `spark.jars.packages` resolution (Ivy, through pyspark's `spark-submit`), which honours
   `spark.jars.repositories` and `spark.jars.ivySettings` from `$SPARK_CONF_DIR/spark-defaults.conf`.

`MEDALLION_MAVEN_REPOSITORY`, when set, is one more repository URL for steps 2 and 3 (it has no
default). `python -m framework.engine.jars` (run by `make setup`) does this and prints one line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from framework.errors import SetupError

DELTA_VERSION = "4.4.0"
"""delta-spark 4.4.0 is the newest release whose jar is published for Spark 4.2 (4.4.1 is not)."""
MIN_JAVA = 17
REPOSITORY_ENV = "MEDALLION_MAVEN_REPOSITORY"
"""An extra repository URL to resolve from (a mirror the user wants to force); unset by default."""
FORCED_REPOSITORY_ID = "medallion-forced"
"""The id `mvn` gives that repository, so `~/.m2/settings.xml` can hold its credentials in `<servers>`."""
RESOLVE_TIMEOUT_S = 900
MIRROR_HELP = (f"configure a mirror in ~/.m2/settings.xml (<mirrors>), set {REPOSITORY_ENV} to a repository "
               "URL, or set spark.jars.repositories / spark.jars.ivySettings in $SPARK_CONF_DIR/spark-defaults.conf")


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
        """Where the jar sits in a Maven-layout repository (local or remote)."""
        return f"{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.file_name}"

    @property
    def ivy_file_name(self) -> str:
        """The name Spark's Ivy retrieval gives the jar in `<spark.jars.ivy>/jars/`."""
        return f"{self.group}_{self.file_name}"


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
    """The jar paths when every one is cached (non-empty), else None: a cheap check at each session start."""
    folder = folder or cache_dir()
    paths = [folder / a.file_name for a in ARTIFACTS]
    return paths if all(p.is_file() and p.stat().st_size > 0 for p in paths) else None


def forced_repository() -> str | None:
    """`$MEDALLION_MAVEN_REPOSITORY` if set; a value that is not a URL is a one-line SetupError."""
    url = os.environ.get(REPOSITORY_ENV, "").strip()
    if not url:
        return None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", url):
        # the value is not echoed: whatever it is, it may hold a credential
        raise SetupError(f"{REPOSITORY_ENV} is set but is not a repository URL (scheme://host/path, or "
                         "file:///path for a folder); fix it or unset it")
    return url


# --- helpers shared by the sources ---------------------------------------------------------------------


def redact_credentials(text: str) -> str:
    """Hide `user:password@` in URLs: a repository URL may carry credentials, which never reach a message."""
    return re.sub(r"(\w+://)[^/\s@]+@", r"\1***@", text)


def _brief(text: str, limit: int = 220) -> str:
    """One line, no colour codes, no credentials, not too long: a reason fit for the SetupError."""
    line = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
    line = redact_credentials(line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _tilde(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _is_jar(path: Path) -> bool:
    """A zip archive, so an HTML error page or a truncated download is never cached as a jar."""
    return path.is_file() and path.stat().st_size > 0 and zipfile.is_zipfile(path)


def _adopt(source: Path, target: Path) -> None:
    """Copy a resolved jar into the cache atomically (temp file, then rename), so a crash never leaves half a jar."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(source, partial)
    partial.replace(target)


def _missing(artifacts: Sequence[Artifact], folder: Path) -> list[Artifact]:
    return [a for a in artifacts if not _is_jar(folder / a.file_name)]


# --- source 1: the local Maven repository ---------------------------------------------------------------


def _settings_local_repository(settings: Path) -> Path | None:
    """`<localRepository>` of a Maven settings file (with `${user.home}` / `${env.X}` expanded), if any."""
    try:
        root = ElementTree.parse(settings).getroot()
    except (OSError, ElementTree.ParseError):
        return None  # absent or broken: mvn itself will say so if it matters
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "localRepository" and (element.text or "").strip():
            value = element.text.strip().replace("${user.home}", str(Path.home()))
            value = re.sub(r"\$\{env\.(\w+)\}", lambda m: os.environ.get(m.group(1), ""), value)
            return Path(value).expanduser()
    return None


def local_repositories() -> list[Path]:
    """Where Maven keeps downloaded artifacts, most specific first: `-Dmaven.repo.local` in `$MAVEN_OPTS`,
    `<localRepository>` of `~/.m2/settings.xml`, then the default `~/.m2/repository`."""
    found: list[Path] = []
    try:
        options = shlex.split(os.environ.get("MAVEN_OPTS", ""))
    except ValueError:  # unbalanced quotes: mvn will complain itself; we just skip the hint
        options = []
    for option in options:
        if option.startswith("-Dmaven.repo.local="):
            found.append(Path(option.split("=", 1)[1]).expanduser())
    if configured := _settings_local_repository(Path.home() / ".m2" / "settings.xml"):
        found.append(configured)
    found.append(Path.home() / ".m2" / "repository")
    return list(dict.fromkeys(found))


def _checksum_matches(jar: Path) -> bool:
    """Maven stores the repository's SHA-1 next to a downloaded jar; a copy that disagrees is not used."""
    sidecar = jar.with_name(jar.name + ".sha1")
    if not sidecar.is_file():
        return True
    expected = (sidecar.read_text(errors="replace").split() or [""])[0].lower()
    return hashlib.sha1(jar.read_bytes()).hexdigest() == expected


def copy_from_local_repository(artifacts: Sequence[Artifact], folder: Path) -> str | None:
    """Copy what the local Maven repository already holds. None when all are copied, else why not."""
    repositories = local_repositories()
    problems: list[str] = []
    for artifact in artifacts:
        for repository in repositories:
            jar = repository / artifact.relative_path
            if not jar.is_file():
                continue
            if not (_is_jar(jar) and _checksum_matches(jar)):
                problems.append(f"{_tilde(jar)} is corrupt (not a zip or SHA-1 mismatch)")
                continue
            _adopt(jar, folder / artifact.file_name)
            break
    if not _missing(artifacts, folder):
        return None
    where = ", ".join(_tilde(r) for r in repositories)
    return "; ".join(problems) if problems else f"not in {where}"


# --- source 2: mvn dependency:copy ----------------------------------------------------------------------


def _maven_project(artifacts: Sequence[Artifact], output: Path, forced: bool) -> str:
    """A throw-away POM whose dependency plugin copies the artifacts into `output` (one mvn run for all).

    The forced repository is written as `${env.MEDALLION_MAVEN_REPOSITORY}`, which Maven expands itself,
    so a URL carrying credentials never lands in a file or on a command line.
    """
    items = "".join(f"<artifactItem><groupId>{escape(a.group)}</groupId><artifactId>{escape(a.name)}</artifactId>"
                    f"<version>{escape(a.version)}</version><type>jar</type></artifactItem>" for a in artifacts)
    repositories = (f"<repositories><repository><id>{FORCED_REPOSITORY_ID}</id><url>${{env.{REPOSITORY_ENV}}}</url>"
                    "</repository></repositories>") if forced else ""
    return ("<project><modelVersion>4.0.0</modelVersion>"
            "<groupId>medallion.setup</groupId><artifactId>delta-jars</artifactId><version>0</version>"
            f"<packaging>pom</packaging>{repositories}<build><plugins><plugin>"
            "<groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>"
            f"<configuration><artifactItems>{items}</artifactItems>"
            f"<outputDirectory>{escape(str(output))}</outputDirectory></configuration>"
            "</plugin></plugins></build></project>\n")


def _maven_error(output: str) -> str:
    """The first `[ERROR]` line of mvn's output (the cause; the rest is boilerplate)."""
    for line in output.splitlines():
        text = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if text.startswith("[ERROR]") and text[7:].strip():
            return _brief(text[7:].split(" -> [Help")[0])
    return _brief(output.strip().splitlines()[-1] if output.strip() else "no output")


def copy_with_maven(artifacts: Sequence[Artifact], folder: Path) -> str | None:
    """Resolve with `mvn dependency:copy`, which knows the user's settings.xml. None on success, else why not."""
    mvn = shutil.which("mvn")
    if not mvn:
        return "`mvn` is not installed"
    forced = forced_repository() is not None
    with tempfile.TemporaryDirectory(prefix="medallion-mvn-") as work:
        output = Path(work) / "jars"
        pom = Path(work) / "pom.xml"
        pom.write_text(_maven_project(artifacts, output, forced))
        command = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom), "dependency:copy"]
        try:
            result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return f"`mvn dependency:copy` timed out after {RESOLVE_TIMEOUT_S} s"
        if result.returncode != 0:
            return f"`mvn dependency:copy` failed: {_maven_error(result.stdout + result.stderr)}"
        for artifact in artifacts:
            if _is_jar(output / artifact.file_name):
                _adopt(output / artifact.file_name, folder / artifact.file_name)
    missing = _missing(artifacts, folder)
    return f"`mvn dependency:copy` delivered no {', '.join(a.file_name for a in missing)}" if missing else None


# --- source 3: Spark's own resolution (Ivy) --------------------------------------------------------------


def _spark_home() -> Path | None:
    """The Spark pyspark would start: `$SPARK_HOME`, else the pyspark package (found without importing it)."""
    if os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])
    spec = importlib.util.find_spec("pyspark")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _spark_error(output: str) -> str:
    """Spark's reason from spark-submit's output: the exception message (e.g. `unresolved dependency: ...`)."""
    lines = [line.strip() for line in output.splitlines()]
    for line in lines:
        if line.startswith("Exception in thread"):
            return _brief(line.split(": ", 1)[-1].removeprefix("[").removesuffix("]"))
    errors = [line for line in lines if re.search(r"(Exception|Error)\b", line) and not line.startswith("at ")]
    return _brief(errors[0] if errors else (lines[-1] if lines else "no output"))


def copy_with_spark(artifacts: Sequence[Artifact], folder: Path) -> str | None:
    """Resolve with `spark.jars.packages` in a short-lived `spark-submit` (Ivy honours `spark.jars.repositories`
    and `spark.jars.ivySettings`), in a dedicated Ivy directory, then copy the jars. None on success, else why not.

    The submitted script is empty: Spark resolves packages before it starts the application, so no
    SparkContext is ever created.
    """
    home = _spark_home()
    submit = home / "bin" / "spark-submit" if home else None
    if not submit or not submit.is_file():
        return "pyspark's spark-submit was not found"
    forced = forced_repository()
    ivy = folder / ".ivy"
    ivy.mkdir(parents=True, exist_ok=True)
    script = ivy / "resolve_only.py"
    script.write_text("# spark-submit resolves spark.jars.packages before running this; nothing else to do\n")
    command = [str(submit), "--conf", f"spark.jars.packages={','.join(a.coordinate for a in artifacts)}",
               "--conf", f"spark.jars.ivy={ivy}", "--conf", "spark.ui.enabled=false"]
    if forced:
        command += ["--conf", f"spark.jars.repositories={forced}"]
    environment = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    try:
        result = subprocess.run(command + [str(script)], env=environment, capture_output=True, text=True,
                                timeout=RESOLVE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"spark-submit timed out after {RESOLVE_TIMEOUT_S} s"
    if result.returncode != 0:
        return f"spark-submit failed: {_spark_error(result.stderr + result.stdout)}"
    for artifact in artifacts:
        if _is_jar(ivy / "jars" / artifact.ivy_file_name):
            _adopt(ivy / "jars" / artifact.ivy_file_name, folder / artifact.file_name)
    missing = _missing(artifacts, folder)
    if missing:
        return f"spark-submit resolved no {', '.join(a.ivy_file_name for a in missing)}"
    shutil.rmtree(ivy, ignore_errors=True)  # the jars are in the cache now; the Ivy copy would only double them
    return None


Source = Callable[[Sequence[Artifact], Path], "str | None"]
SOURCES: tuple[tuple[str, Source], ...] = (
    ("local Maven repository", copy_from_local_repository),
    ("mvn", copy_with_maven),
    ("Spark/Ivy", copy_with_spark),
)
"""Tried in this order: no network first, then Maven (the user's settings.xml), then Spark's Ivy."""


def ensure_jars(folder: Path | None = None) -> list[Path]:
    """The cached jar paths, resolving whatever is missing. Raises SetupError with a one-line reason."""
    folder = folder or cache_dir()
    if found := cached_jars(folder):
        return found
    folder.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for name, source in SOURCES:
        missing = _missing(ARTIFACTS, folder)
        if not missing:
            break
        reason = source(missing, folder)
        if reason is None:
            break
        tried.append(f"{name}: {reason}")
    if found := cached_jars(folder):
        return found
    wanted = ", ".join(a.coordinate for a in _missing(ARTIFACTS, folder))
    raise SetupError(f"could not get the Delta jars {wanted} (tried {'; '.join(tried)}); {MIRROR_HELP}, "
                     f"then run `make setup` again (or copy the jars into {folder})")


def jar_conf() -> dict[str, str]:
    """Spark settings that put Delta on the classpath: `spark.jars` with the cached jars.

    Raises SetupError when they cannot be had: `ensure_jars` has already tried Spark's own resolution,
    so handing `spark.jars.packages` to the session would only fail again, later and less clearly.
    """
    return {"spark.jars": ",".join(str(p) for p in ensure_jars())}


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
