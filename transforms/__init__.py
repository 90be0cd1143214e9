"""The project's Python transforms: pipeline code the team owns, referenced by specs as
`transform.python: transforms.<module>:<function>` (like dbt macros, next to `tables/`).

Each function takes the spec's source DataFrame and returns the table's DataFrame. The framework puts
the project root on `sys.path` (locally and on Databricks, where the bundle syncs this folder), and
`medallion validate` checks the reference by reading the source, without importing anything.
"""
