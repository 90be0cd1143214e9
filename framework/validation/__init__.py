"""Checks of a project without a JVM: JSON Schema, semantic rules across specs, SQL, Python references."""
