"""scikit-learn's private helpers, imported in this one place.

``_fit_context`` and ``validate_data`` come through `sklearn-compat
<https://github.com/sklearn-compat/sklearn-compat>`_, as imbalanced-learn does, so that a
scikit-learn release that moves them does not break the package. The parameter-constraint
classes have no such shim: they come from ``sklearn.utils._param_validation`` directly, and
``pyproject.toml`` bounds scikit-learn to the tested range. A scikit-learn upgrade is checked
by the tests of this module's importers, all through this file.
"""

from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_fit_context",
    "validate_data",
    "validate_params",
]
