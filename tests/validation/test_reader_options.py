"""`source.files.options` keys are checked against the real option names of the format's reader.

A misspelt option is no error to Spark: `headr: true` is ignored and every CSV header line is loaded as
a data row. `validate` names the key's line and column and the option that was probably meant. The
names ship as data (framework/validation/data/reader_options.txt, from pyspark's reader signatures,
Spark's documented options and Databricks "Auto Loader options"); matching ignores case, as Spark does.
"""

from __future__ import annotations

from importlib import metadata

from framework.validation.reader_options import (DATA_FILE, REFRESH_COMMAND, generate, known_options,
                                                 shipped_options, shipped_version)
from tests.validation.spec_project import RAW_EVENTS, SpecProject, at
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

BRONZE = "tables/bronze/raw_events.yaml"


def with_options(fmt: str, options: str) -> str:
    return RAW_EVENTS.replace("    format: json\n", f"    format: {fmt}\n    options:\n{options}")


def test_a_misspelt_option_is_an_error_at_its_key_with_did_you_mean(pipeline: SpecProject) -> None:
    text = pipeline.table("bronze", "raw_events", with_options("csv", "      headr: true\n      sep: ';'\n"))
    finding = pipeline.one(BRONZE)
    assert (finding.line, finding.column) == at(text, "headr")
    assert finding.message == "`headr` is not an option of the csv reader (Spark ignores it silently)"
    assert finding.hint == "did you mean `header`?"
    assert finding.doc_path.endswith("options.headr")


def test_option_names_ignore_case_and_auto_loader_options_are_known(pipeline: SpecProject) -> None:
    pipeline.table("bronze", "raw_events", with_options(
        "csv", "      HEADER: true\n      multiline: false\n      dateFormat: yyyy-MM-dd\n"
               "      pathGlobFilter: '*.csv'\n      cloudfiles.maxFileAge: 30 days\n"
               "      readerCaseSensitive: true\n      cloudFiles.resourceTag.team: data\n"))
    assert pipeline.errors() == []


def test_an_option_of_another_format_says_so(pipeline: SpecProject) -> None:
    text = pipeline.table("bronze", "raw_events", with_options("json", "      header: true\n"))
    finding = pipeline.one(BRONZE)
    assert (finding.line, finding.column) == at(text, "header")
    assert finding.hint == "`header` is a csv option; this table reads json"


def test_options_the_spec_sets_and_credentials_are_refused(pipeline: SpecProject) -> None:
    text = pipeline.table("bronze", "raw_events", with_options(
        "json", "      cloudFiles.format: csv\n      cloudFiles.awsSecretKey: abc\n"))
    errors = {f.message: f for f in pipeline.errors()}
    fmt = errors["option `cloudFiles.format` is set by the framework from the spec"]
    assert (fmt.line, fmt.column) == at(text, "cloudFiles.format") and "source.files.format" in fmt.hint
    assert "option `cloudFiles.awsSecretKey` puts a credential in the spec file" in errors


def test_the_list_is_for_the_installed_pyspark() -> None:
    assert shipped_version() == metadata.version("pyspark"), f"the pyspark pin moved: run `{REFRESH_COMMAND}`"
    assert DATA_FILE.read_text(encoding="utf-8") == generate(), f"stale list: run `{REFRESH_COMMAND}`"


def test_the_list_has_spark_s_and_auto_loader_s_names() -> None:
    sections = shipped_options()
    assert {"header", "sep", "enforceSchema", "columnNameOfCorruptRecord"} <= set(sections["csv"])
    assert {"multiLine", "allowSingleQuotes", "primitivesAsString"} <= set(sections["json"])
    assert {"pathGlobFilter", "recursiveFileLookup", "modifiedBefore", "modifiedAfter"} <= set(sections["generic"])
    assert {"cloudFiles.schemaHints", "cloudFiles.maxFileAge", "cloudFiles.useNotifications"} <= set(sections["cloudFiles"])
    assert "header" not in known_options("json") and "header" in known_options("csv")
