"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks), in full.

Every check of the installed scikit-learn runs on MLPClassifier() and MLPRegressor()
with their DEFAULT arguments, and every one must pass: no expected failures. The
computation follows the input's dtype (dtype=None), so the checks that compare two
fits at rtol=1e-7 see float64 arithmetic. Two checks are skipped by scikit-learn
itself (they raise SkipTest, shown by pytest as skips with sklearn's reason):
check_array_api_input (runs only with SCIPY_ARRAY_API=1 in the environment, and these
estimators declare no array-API support) and
check_classifiers_multilabel_output_format_decision_function (there is no
decision_function, as in scikit-learn's MLPClassifier).

The default max_iter=200 is not always reached convergence on the checks' tiny data
sets, hence ConvergenceWarning is ignored here (scikit-learn's MLP warns the same).
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from glassnet.interop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
