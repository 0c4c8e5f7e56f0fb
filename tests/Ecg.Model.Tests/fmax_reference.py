#!/usr/bin/env python3
"""Reference values for FmaxTests.fs (Ecg.Model.Metrics.Fmax).

The formula is the sample-centric Fmax of the PTB-XL benchmark's authors (eval_scores with
num_thresholds=100 and eval_prrc_parallel in clinical_ts/eval_utils_cafa.py), restated here with NumPy:
thresholds np.arange(0.00, 1.01, 1/100); a record predicts the classes with score >= t; precision is
np.nanmean over records of TP/predicted (NaN where a record predicts none), recall np.mean of TP/true;
F = 2PR/(P+R); Fmax = F[np.nanargmax(F)], 0 when F is NaN everywhere.

Fixture: the LCG below (same as in FmaxTests.fs), scores k/100 as float32 so that many equal the thresholds.
Run with Debian's python3-numpy (1.24.2):  /usr/bin/python3 tests/Ecg.Model.Tests/fmax_reference.py
"""
import warnings
import numpy as np

MASK = (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self, bound):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.s >> 33) % bound


def fixture(seed, n, c):
    """Scores k/100 (k < 101), higher for true classes; every record has at least one true class."""
    rng = Lcg(seed)
    S = np.zeros((n, c), dtype=np.float32)
    Y = np.zeros((n, c), dtype=np.uint8)
    for i in range(n):
        for j in range(c):
            y = 1 if rng.next(1000) < 150 + 100 * j else 0
            k = rng.next(61) + 40 * y
            Y[i, j] = y
            S[i, j] = np.float32(k / 100.0)
        if Y[i].sum() == 0:
            Y[i, rng.next(c)] = 1
    return S, Y


def fmax(y_true, y_pred, num_thresholds=100):
    thresholds = np.arange(0.00, 1.01, 1. / num_thresholds, float)
    predicted = y_pred[None, :, :] >= thresholds[:, None, None]            # thresholds, records, classes
    tp = np.sum(np.logical_and(y_true[None, :, :] == 1, predicted), axis=2)
    count = np.sum(predicted, axis=2)
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = tp / count
        precision[count == 0] = np.nan
        recall = tp / np.sum(y_true == 1, axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            P = np.nanmean(precision, axis=1)
        R = np.mean(recall, axis=1)
        F = 2 * P * R / (P + R)
    cov = np.mean(count > 0, axis=1)
    if np.isnan(F).all():
        return thresholds, P, R, F, cov, (0.0, 0.0, 0.0, 0.0, 0.0)
    k = np.nanargmax(F)
    return thresholds, P, R, F, cov, (F[k], thresholds[k], P[k], R[k], cov[k])


def main():
    t = np.arange(0.00, 1.01, 1. / 100, float)
    assert len(t) == 101 and all(t[i] == i * 0.01 for i in range(101)), "thresholds are i * 0.01"
    for name, (S, Y) in [("fixture(5, 80, 6)", fixture(5, 80, 6)), ("fixture(11, 300, 4)", fixture(11, 300, 4))]:
        th, P, R, F, cov, best = fmax(Y, S)
        print(name, "Fmax, threshold, precision, recall, coverage =", ", ".join(repr(float(v)) for v in best))
        for i in (0, 37, 60, 100):
            print("  t[%d]: P %r R %r F %r coverage %r" % (i, float(P[i]), float(R[i]), float(F[i]), float(cov[i])))
    # Hand case: 3 records x 2 classes.
    S = np.array([[0.9, 0.2], [0.4, 0.6], [0.05, 0.3]], dtype=np.float32)
    Y = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.uint8)
    print("hand", ", ".join(repr(float(v)) for v in fmax(Y, S)[5]))
    # No score reaches 0: nothing is predicted anywhere, F is NaN everywhere, Fmax 0.
    print("none", ", ".join(repr(float(v)) for v in fmax(Y, -S)[5]))


if __name__ == "__main__":
    main()
