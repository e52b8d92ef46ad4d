"""Imports a dependency that does not exist, as a plugin with a missing requirement would."""

import supernet_bench_missing_dependency  # noqa: F401
