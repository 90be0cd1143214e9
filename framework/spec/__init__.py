"""Spec files and the model built from them: located YAML documents, TableSpec, Environment, Project."""
