"""Hostile landing data on real Spark + Delta: every landed line ends in exactly one place.

One landing folder holds valid bars plus one line of every kind of bad input the collectors could
produce (or a broken provider could send). Each line carries a tag `rNNNN` (in `batch_id`, which
bronze, silver and the quarantine keep — and, for lines that do not parse, in the raw text kept in
`_rescued_data`), and the test knows where each tag must end:

    silver       clean, in-session bars (one per key)
    quarantine   with the names of the rules it failed
    dropped      not stored anywhere, counted in the event log (`in_session` drops: the AUTO CDC flow's
                 `dropped_records` minus what its quarantine flow received)
    deduplicated not stored anywhere (same key as a kept bar): the rows its view's rules saw, minus those
                 dropped, minus the keys upserted — documented event-log fields only

The reconciliation is a SQL query over bronze, silver, the quarantine table and the event log: the
four destinations are disjoint and add up to bronze, tag by tag and in total. One pipeline run serves
the whole module.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest

from framework.eventlog import EXPECTATIONS_TYPE
from tests.medallion_testing import SESSIONS, bar_rows, make_local_project, rfc3339

pytestmark = [pytest.mark.spark, pytest.mark.reliability]

DAYS = (date(2026, 11, 24), date(2026, 11, 25))
TAG = re.compile(r"r\d{4}")


class Landing:
    """Builds the landing lines and remembers where each tag must end."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.expected: dict[str, str] = {}  # tag -> silver | quarantine | dropped | deduplicated
        self.rules: dict[str, set[str]] = {}  # tag -> rules the quarantined row must name

    def tag(self) -> str:
        return f"r{len(self.expected):04d}"

    def add(self, row: dict[str, Any], where: str, rules: set[str] = frozenset()) -> str:
        tag = self.tag()
        self.expected[tag] = where
        self.rules[tag] = set(rules)
        self.lines.append(json.dumps({**row, "batch_id": tag}, allow_nan=True))
        return tag

    def raw(self, text: str, where: str, rules: set[str] = frozenset()) -> str:
        """A line written verbatim; `{tag}` in it is replaced by its tag."""
        tag = self.tag()
        self.expected[tag] = where
        self.rules[tag] = set(rules)
        self.lines.append(text.replace("{tag}", tag))
        return tag


def build_landing() -> Landing:
    landing = Landing()
    for day in DAYS:
        for symbol in ("AAPL", "MSFT"):
            for row in bar_rows(symbol, day):
                landing.add(row, "silver")
    day = DAYS[0]
    opens, closes = SESSIONS[day]
    good = bar_rows("JPM", day)[0]

    def at(minutes: int) -> str:
        return rfc3339(opens + timedelta(minutes=minutes))

    # malformed JSON: the raw text is kept in _rescued_data -> quarantine (well_formed)
    landing.raw('{"symbol": "JPM", "batch_id": "{tag}", "ts": ', "quarantine", {"well_formed"})
    landing.raw('not json at all {tag}', "quarantine", {"well_formed"})
    landing.raw('{"symbol": "JPM", "batch_id": "{tag}", "open": 1,, }', "quarantine", {"well_formed"})
    # wrong types: a string price, a float trade count, an object volume
    landing.add({**good, "ts": at(1), "open": "abc"}, "quarantine", {"well_formed"})
    landing.add({**good, "ts": at(2), "trade_count": 1.5}, "quarantine", {"well_formed"})
    landing.add({**good, "ts": at(3), "volume": {"shares": 1}}, "quarantine", {"well_formed"})
    # missing fields
    landing.add({k: v for k, v in good.items() if k != "symbol"} | {"ts": at(4)}, "quarantine", {"keys_present"})
    landing.add({k: v for k, v in good.items() if k != "ts"}, "quarantine", {"keys_present"})
    landing.add({k: v for k, v in good.items() if k != "open"} | {"ts": at(6)}, "quarantine", {"prices_positive"})
    landing.add({k: v for k, v in good.items() if k != "volume"} | {"ts": at(7)}, "quarantine",
                {"volume_non_negative"})
    landing.add({k: v for k, v in good.items() if k not in ("session_open", "session_close")} | {"ts": at(8)},
                "dropped")
    # extreme values
    landing.add({**good, "ts": at(9), "close": float("nan")}, "quarantine", {"prices_positive"})
    landing.add({**good, "ts": at(10), "high": float("inf")}, "quarantine", {"prices_positive"})
    landing.add({**good, "ts": at(11), "high": 1e308}, "quarantine", {"prices_positive"})
    landing.add({**good, "ts": at(12), "low": float("-inf")}, "quarantine", {"prices_positive"})
    landing.add({**good, "ts": at(13), "volume": -5}, "quarantine", {"volume_non_negative"})
    # a CAST to BIGINT would saturate 1e308 and zero NaN: silver's transform nulls them first
    landing.extreme_volumes = [  # type: ignore[attr-defined]
        landing.add({**good, "ts": at(14), "volume": 1e308}, "quarantine", {"volume_non_negative"}),
        landing.add({**good, "ts": at(15), "volume": float("nan")}, "quarantine", {"volume_non_negative"})]
    # inconsistent bar
    landing.add({**good, "ts": at(16), "high": 1.0}, "quarantine", {"high_covers_open_close", "high_not_below_low"})
    # timestamps: before the open, at/after the close, a holiday, the weekend, the far future, garbage
    landing.add({**good, "ts": at(-30)}, "dropped")
    landing.add({**good, "ts": rfc3339(closes)}, "dropped")
    landing.add({**good, "ts": "2026-11-26T16:00:00Z", "session_open": None, "session_close": None}, "dropped")
    landing.add({**good, "ts": "2026-11-22T16:00:00Z", "session_open": None, "session_close": None}, "dropped")
    landing.add({**good, "ts": "2099-01-02T15:00:00Z", "session_open": "2099-01-02T14:30:00Z",
                 "session_close": "2099-01-02T21:00:00Z"}, "quarantine", {"not_in_future"})
    landing.add({**good, "ts": "yesterday"}, "quarantine", {"keys_present"})
    # duplicates: a bar landed twice with different tags (one wins), and the same line twice
    first = landing.add({**good, "ts": at(20)}, "silver|deduplicated")
    second = landing.add({**good, "ts": at(20), "volume": 4242}, "silver|deduplicated")
    landing.pair = (first, second)  # type: ignore[attr-defined]
    line = json.dumps({**good, "ts": at(21), "batch_id": "r9999"})
    landing.lines += [line, line]
    landing.expected["r9999"] = "silver+deduplicated"
    return landing


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("reconcile") / "project")
    project.write_calendar()
    landing = build_landing()
    half = len(landing.lines) // 2  # two files: the duplicates may straddle them
    project.write_bars("synthetic_a_b000.jsonl", landing.lines[:half])
    project.write_bars("synthetic_b_b000.jsonl", landing.lines[half:])
    result = project.run(spark)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    storage = project.storage / "tables"
    for schema, table in (("bronze", "bars_raw"), ("silver", "bars"), ("silver", "bars_quarantine"),
                          ("ops", "event_log")):
        spark.read.format("delta").load(str(storage / schema / table)).createOrReplaceTempView(f"r_{table}")
    return project, landing, result


TAG_SQL = "coalesce(batch_id, regexp_extract(_rescued_data, 'r[0-9]{4}', 0))"

RECONCILE_SQL = f"""
WITH bronze AS (SELECT {TAG_SQL} AS tag, count(*) AS n FROM r_bars_raw GROUP BY 1),
     silver AS (SELECT {TAG_SQL} AS tag, count(*) AS n FROM r_bars GROUP BY 1),
     quarantine AS (SELECT {TAG_SQL} AS tag, count(*) AS n FROM r_bars_quarantine GROUP BY 1),
     events AS (  -- documented event-log fields only, as on Databricks
       SELECT sum(CAST(get_json_object(details, '$.flow_progress.data_quality.dropped_records') AS BIGINT))
                AS dropped_records,
              sum(array_max(transform(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'),
                                                '{EXPECTATIONS_TYPE}'), e -> e.passed_records + e.failed_records)))
                AS checked,
              sum(CAST(get_json_object(details, '$.flow_progress.metrics.num_upserted_rows') AS BIGINT)) AS upserted
       FROM r_event_log WHERE event_type = 'flow_progress' AND origin.flow_name = 'silver.bars'),
     quarantine_flow AS (
       SELECT sum(CAST(get_json_object(details, '$.flow_progress.metrics.num_output_rows') AS BIGINT)) AS output
       FROM r_event_log WHERE event_type = 'flow_progress' AND origin.flow_name = 'silver.bars_quarantine')
SELECT (SELECT sum(n) FROM bronze) AS bronze, (SELECT sum(n) FROM silver) AS silver,
       (SELECT sum(n) FROM quarantine) AS quarantine, dropped_records - (SELECT output FROM quarantine_flow) AS dropped,
       checked - dropped_records - upserted AS deduplicated,
       (SELECT count(*) FROM silver s JOIN quarantine q USING (tag)) AS in_both,
       (SELECT count(*) FROM silver WHERE n > 1) AS silver_dupes,
       (SELECT count(*) FROM quarantine WHERE tag = '') AS untagged_quarantine
FROM events
"""


def test_every_line_reaches_bronze(spark, landed):
    _, landing, _ = landed
    rows = spark.sql(f"SELECT {TAG_SQL} AS tag FROM r_bars_raw").collect()
    assert len(rows) == len(landing.lines)
    assert {r["tag"] for r in rows} == set(landing.expected)


def test_reconciliation_query_balances(spark, landed):
    """bronze = silver + quarantine + dropped + de-duplicated, destinations disjoint (tables + event log)."""
    _, landing, result = landed
    r = spark.sql(RECONCILE_SQL).first()
    print(f"reconciliation: bronze {r['bronze']} = silver {r['silver']} + quarantine {r['quarantine']} "
          f"+ dropped {r['dropped']} + deduplicated {r['deduplicated']}")
    assert r["bronze"] == len(landing.lines)
    assert r["bronze"] == r["silver"] + r["quarantine"] + r["dropped"] + r["deduplicated"]
    assert (r["in_both"], r["silver_dupes"], r["untagged_quarantine"]) == (0, 0, 0)
    m = result.flow("bars").metrics
    assert (m.written_rows, m.quarantined_rows, m.dropped_rows, m.deduplicated_rows) == \
        (r["silver"], r["quarantine"], r["dropped"], r["deduplicated"])


def test_each_line_ends_where_expected(spark, landed):
    _, landing, _ = landed
    silver = {r["tag"] for r in spark.sql(f"SELECT {TAG_SQL} AS tag FROM r_bars").collect()}
    quarantine = {r["tag"] for r in spark.sql(f"SELECT {TAG_SQL} AS tag FROM r_bars_quarantine").collect()}
    got = {}
    for tag, where in landing.expected.items():
        got[tag] = "silver" if tag in silver else "quarantine" if tag in quarantine else "gone"
    want = {t: {"silver": "silver", "quarantine": "quarantine", "dropped": "gone"}.get(w, got[t])
            for t, w in landing.expected.items()}
    assert got == want
    first, second = landing.pair
    assert (first in silver) != (second in silver), "exactly one of two bars with the same key is kept"
    assert "r9999" in silver
    dropped = [t for t, w in landing.expected.items() if w == "dropped"]
    deduplicated = 2  # one of the pair, one copy of the repeated line
    r = spark.sql(RECONCILE_SQL).first()
    assert (r["dropped"], r["deduplicated"]) == (len(dropped), deduplicated)


def test_quarantined_rows_name_their_failed_rules(spark, landed):
    _, landing, _ = landed
    rows = spark.sql(f"SELECT {TAG_SQL} AS tag, _failed_rules FROM r_bars_quarantine").collect()
    failed = {r["tag"]: set(r["_failed_rules"]) for r in rows}
    for tag, where in landing.expected.items():
        if where == "quarantine":
            assert landing.rules[tag] <= failed[tag], (tag, landing.lines[int(tag[1:])], failed[tag])
    assert all(failed.values()), "every quarantined row names at least one rule"


def test_non_finite_or_overflowing_volumes_are_quarantined(spark, landed):
    _, landing, _ = landed
    volumes = {r["batch_id"]: r["volume"] for r in spark.sql("SELECT batch_id, volume FROM r_bars").collect()}
    print("silver volume of 1e308 / NaN lines:", [volumes.get(t) for t in landing.extreme_volumes])
    assert not set(landing.extreme_volumes) & set(volumes)
