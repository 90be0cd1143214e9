"""Suite-wide fixtures. They live in `medallion_testing` (a uniquely named module) because several
test folders have a conftest.py of their own, so `from medallion_testing import ...` would be ambiguous.

`spark` is the ONE SparkSession of the test run; `local_project` builds throw-away project copies.
"""

from medallion_testing import local_project, spark  # noqa: F401  (fixtures registered by import)
