"""A toy search space defined outside the package: importing registers the space and its catalog."""

from tests.extension.toy_space import catalog, space  # noqa: F401  (registration)
