"""The `f1` metric of huggingface/evaluate (Apache-2.0), kept locally for offline use."""

import datasets
import evaluate
import numpy as np

from sklearn.metrics import f1_score


class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="F1 of the predictions (scikit-learn's f1_score).",
            citation="",
            inputs_description="predictions and references: lists of class ids; average, labels, pos_label",
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(
        self, predictions, references, labels=None, pos_label=1, average="binary",
        sample_weight=None, zero_division=0,
    ):
        score = f1_score(
            references, predictions, labels=labels, pos_label=pos_label, average=average,
            sample_weight=sample_weight, zero_division=zero_division,
        )
        return {"f1": float(score) if np.ndim(score) == 0 else score.tolist()}
