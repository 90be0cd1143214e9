"""The local job: collect -> pipeline -> quality checks, in the order the Databricks job runs them,
with run history and failure notifications."""
