"""A class-conditional generator judged by the digit classifier reading its images:
`conditional_accuracy` is the share drawn as the class asked for, and `per_class_fid` the domain
FID of each class against the real images of that class.
"""

import numpy as np

from gan_keras.metrics.distances import fid
from gan_keras.metrics.features import predict_classes


def conditional_accuracy(images, labels, dataset, data_dir=None):
    """Share of uint8 `images` that the digit classifier reads as the class in `labels` they were
    drawn for: 1.0 for a generator that always draws the class asked for, ~0.1 for one that
    ignores the class (10 balanced classes)."""
    return float(np.mean(predict_classes(images, dataset, data_dir) == np.asarray(labels)))


def per_class_fid(real_features, real_labels, fake_features, fake_labels):
    """FID of each class (0, 1, ...) between the real and the generated features of that class."""
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    classes = int(max(real_labels.max(), fake_labels.max())) + 1
    return [fid(real_features[real_labels == c], fake_features[fake_labels == c])
            if min((real_labels == c).sum(), (fake_labels == c).sum()) > 1 else float("nan") for c in range(classes)]

