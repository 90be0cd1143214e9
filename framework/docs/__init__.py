"""The generated documentation site (`medallion docs`): a static, offline data catalog.

Read in this order:

    catalog.py       Project -> Catalog: what every page shows, as plain data (no HTML)
    lineage.py       the static lineage drawing (lineage.svg) by Graphviz: every table, or layer x domain groups
    delta_log.py     a Delta table's transaction log read with Python (versions, files, row counts)
    event_log.py     expectation results per run from the local `ops.event_log` Delta table
    stats.py         live statistics of a local run, per table (delta_log + event_log)
    chart.py         geometry of the small pass-rate chart on table pages
    environments.py  every environment's settings flattened side by side
    site_data.py     assets/catalog.js: the one data file behind the sidebar, search and lineage graphs in the browser
    render.py        Jinja2 templates (templates/docs/) + Pygments -> page texts
    output.py        writing the site: byte-identical files, stale pages removed, never a foreign folder
    serve.py         the 127.0.0.1 HTTP server behind `--serve`
    site.py          build_site(): the steps above in order

Pages carry only their own table; navigation, search and the interactive lineage are drawn in the browser
(templates/docs/assets/*.js) from assets/catalog.js, so the site grows linearly with the number of tables.
Nothing here starts a JVM: live statistics come from the Delta log and parquet files via pyarrow.
"""
