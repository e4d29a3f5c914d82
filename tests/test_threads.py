"""BLAS threads: small models train on one thread, and the limit never sticks."""

import threading
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_rnn import RNNClassifier


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        yield


@pytest.mark.parametrize("hidden, expected", [(8, 1), (512, 2)])
def test_small_models_train_on_one_blas_thread(two_blas_threads, monkeypatch,
                                                hidden, expected):
    seen = []
    original = RNNClassifier._train_step

    def recording_step(self, *args, **kwargs):
        seen.append(max(blas_threads()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RNNClassifier, "_train_step", recording_step)
    X, y = np.random.RandomState(0).standard_normal((8, 3, 2)), np.arange(8) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNClassifier(hidden_layer_sizes=(hidden,), batch_size=8, max_iter=1,
                      random_state=0).fit(X, y)
    assert seen == [expected]
    assert max(blas_threads()) == 2  # restored


def test_concurrent_predicts_restore_the_thread_count(two_blas_threads):
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((300, 10, 3)), np.arange(300) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RNNClassifier(hidden_layer_sizes=(8,), max_iter=2,
                            random_state=0).fit(X, y)
    expected = clf.predict(X)
    results = []

    def predict_many():
        results.extend(np.array_equal(clf.predict(X), expected) for _ in range(20))

    threads = [threading.Thread(target=predict_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 60
    assert max(blas_threads()) == 2
