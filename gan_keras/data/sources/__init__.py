"""The named datasets, one module each: its registry declaration, the files it keeps in the data
folder, how to read them and how to fetch them. A new dataset is one module here plus its test.

    @register("dataset", "mine", help="...")
    class Mine(Source):
        def present(self, folder, split): ...
        def read(self, folder, split): ...       # (uint8 images, labels or None)
        def fetch(self, folder, force): ...      # download; returns the path written
        def manual(self, folder): ...            # one sentence: what to download by hand, and where
"""

from gan_keras import registry

DIGIT_SETS = registry.where("dataset", domain_classifier=True)  # the datasets with a domain classifier


class Source:
    """A named dataset in the data folder `folder` (a `Path`)."""

    def present(self, folder, split="train"):
        """Whether the files of `split` are in `folder`."""
        raise NotImplementedError

    def read(self, folder, split="train"):
        """(images uint8 (N, H, W) or (N, H, W, C), labels or None)."""
        raise NotImplementedError

    def fetch(self, folder, force=False):
        """Download into `folder`; returns the path written."""
        raise NotImplementedError

    def manual(self, folder):
        """One sentence: what to download by hand and where to put it."""
        raise NotImplementedError
