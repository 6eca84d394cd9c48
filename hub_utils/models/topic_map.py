"""An intertopic distance map, as LDAvis (Sievert and Shirley, 2014) and BERTopic draw it: each
topic a circle placed in 2-D so that topics with similar word distributions lie close, sized by
how much of the training corpus it covers.

Distances are the Jensen-Shannon distance between topics' word distributions, placed by
classical multidimensional scaling (principal coordinates, LDAvis's default). Numpy only: the
map is computed when a model is trained and saved with it (``topic_map.json``), and computed
here again, without prevalences, for folders saved before that file existed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DISTANCE = "Jensen-Shannon distance between the topics' word distributions"
METHOD = "classical multidimensional scaling (principal coordinates)"


def jensen_shannon_distances(distributions: np.ndarray) -> np.ndarray:
    """Pairwise Jensen-Shannon distances (base 2, so in [0, 1]) between the rows of
    ``distributions``, each a probability distribution."""
    p = np.asarray(distributions, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    log_p = np.log2(np.clip(p, 1e-300, None))
    # KL(p_i || m_ij) summed without building every mixture at once: k x k x vocab is small
    # for 50 topics, but this keeps it to k x k for any number.
    distances = np.zeros((len(p), len(p)))
    for i in range(len(p)):
        mixture = (p[i] + p) / 2
        log_m = np.log2(np.clip(mixture, 1e-300, None))
        kl_i = (p[i] * (log_p[i] - log_m)).sum(axis=1)
        kl_j = (p * (log_p - log_m)).sum(axis=1)
        distances[i] = np.sqrt(np.clip((kl_i + kl_j) / 2, 0, 1))
    return (distances + distances.T) / 2


def classical_mds(distances: np.ndarray, dims: int = 2) -> np.ndarray:
    """Coordinates (n x ``dims``) whose Euclidean distances best keep ``distances``."""
    n = len(distances)
    centring = np.eye(n) - np.ones((n, n)) / n
    gram = -0.5 * centring @ (distances**2) @ centring
    values, vectors = np.linalg.eigh(gram)
    top = np.argsort(values)[::-1][:dims]
    coordinates = vectors[:, top] * np.sqrt(np.clip(values[top], 0, None))
    # eigh's signs are arbitrary: fix them so that the same model always draws the same map.
    signs = np.sign(coordinates[np.abs(coordinates).argmax(axis=0), range(dims)])
    return coordinates * np.where(signs == 0, 1, signs)


def topic_map(word_distributions: np.ndarray, prevalence: np.ndarray | None) -> dict[str, Any]:
    """What the map needs, as JSON: each topic's 2-D position and its prevalence (its mean
    share of the training documents; None when unknown)."""
    coordinates = classical_mds(jensen_shannon_distances(word_distributions))
    return {
        "x": [round(float(value), 6) for value in coordinates[:, 0]],
        "y": [round(float(value), 6) for value in coordinates[:, 1]],
        "prevalence": None
        if prevalence is None
        else [round(float(value), 6) for value in prevalence],
        "distance": DISTANCE,
        "method": METHOD,
    }
