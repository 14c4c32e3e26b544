"""`python -m gan_keras.pretrained`: train the shipped digit classifiers again, into this folder."""

from gan_keras.metrics import DIGIT_SETS, train_digit_classifier
from gan_keras.pretrained import classifier_files

for name in DIGIT_SETS:
    model_path, card_path = classifier_files(name)
    _, info = train_digit_classifier(name, model_path, card_path)
    print(f"{model_path.name}: test accuracy {info['test_accuracy']:.4f}")
