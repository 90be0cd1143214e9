"""Databricks deployment: the asset bundle rendered from environments/, its offline checks, and
workspace operations through databricks-sdk.

    names.py       resource keys and the names the bundle gives pipelines and jobs (shared by render and ops)
    privileges.py  the run-as principal's Unity Catalog privileges, derived from the specs
    dependencies.py  the pipeline's pip dependencies: what the notebook imports (static analysis)
    context.py     environments/ + tables/ + pyproject.toml -> plain values for the templates
    render.py      Jinja2 templates in templates/bundle/ -> databricks.yml and resources/<env>.yml
    bundle.py      the bundle files on disk: located documents and the effective view of one target
    schema.py      validation against the official bundle JSON Schema
    rules.py       rules the schema cannot express (production targets, principals, reachability)
    check.py       check_bundle(project): drift + schema + rules, as located findings
    diff.py        the effective differences between two targets (`medallion bundle diff dev prod`)
    grants.py      table-level grants from specs, applied by a job task (bundles have no table resource)
    workspace.py   a WorkspaceClient from the SDK's usual credentials, and one-line errors
    prerequisites.py  what must hold before a deploy (catalog, USE CATALOG for every grantee, the secret scope), via the SDK
    operations.py  find the bundle's pipeline and job by name; status, trigger, expectation metrics
    catchup.py     wait until a continuous pipeline has processed what landed before a job run's pipeline step
    cli_runner.py  the thin `databricks bundle deploy` wrapper

Nothing here starts a JVM: checks and rendering are pure Python, operations are plain REST (the
catch-up's SQL runs in a Databricks cluster's session when the job's task runs it there).
"""
