"""The estimators' default parameters against scikit-learn's: the same pipelines, the same
cross-validation, scores and seconds side by side, as a Markdown table.

    python benchmarks/sklearn_defaults.py
"""

import time
import warnings

from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp.sklearn import FastBPClassifier

CASES = [("breast cancer", load_breast_cancer, 3), ("digits", load_digits, 5)]


def main() -> None:
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("| data, CV | MLPClassifier() | FastBPClassifier() | seconds, theirs / ours |")
    print("|---|---|---|---|")
    for name, load, folds in CASES:
        X, y = load(return_X_y=True)
        scores, seconds = [], []
        for estimator in (MLPClassifier(random_state=0), FastBPClassifier(random_state=0)):
            model = make_pipeline(StandardScaler(), estimator)
            cross_val_score(model, X[:50], y[:50], cv=2)  # imports, compiled kernels loaded
            start = time.perf_counter()
            scores.append(cross_val_score(model, X, y, cv=folds).mean())
            seconds.append(time.perf_counter() - start)
        print(f"| {name}, {folds}-fold | {scores[0]:.4f} | {scores[1]:.4f} | "
              f"{seconds[0]:.2f} / {seconds[1]:.2f} |")


if __name__ == "__main__":
    main()
