"""The job: its DAG from the project's declaration (medallion.yaml), the project's own tasks, and the local
runner that runs them in the order the Databricks job does, with run history and failure notifications."""
