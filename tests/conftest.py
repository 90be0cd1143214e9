"""Suite-wide fixtures. They live in `tests.medallion_testing`, importable by every test package (each test
folder is a package, so helper modules are named by their package and never confused with one another).

`spark` is the ONE SparkSession of the test run; `local_project` builds throw-away project copies.
"""

from tests.medallion_testing import local_project, spark  # noqa: F401  (fixtures registered by import)
