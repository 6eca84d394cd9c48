"""The `confusion_matrix` metric of huggingface/evaluate (Apache-2.0), kept locally for offline use."""

import datasets
import evaluate

from sklearn.metrics import confusion_matrix


class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Confusion matrix: rows are true classes, columns predicted classes.",
            citation="",
            inputs_description="predictions and references: lists of class ids; labels",
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, labels=None, sample_weight=None, normalize=None):
        matrix = confusion_matrix(
            references, predictions, labels=labels, sample_weight=sample_weight, normalize=normalize
        )
        return {"confusion_matrix": matrix.tolist()}
