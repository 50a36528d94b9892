"""The geospatial layer: building, importing, validating, storing datasets."""

from optimiser.dataset.core import AGE_BANDS, CRS, Dataset, validate
from optimiser.dataset.store import load_dataset, save_dataset

__all__ = ["AGE_BANDS", "CRS", "Dataset", "build_default", "import_dataset", "load_dataset",
           "save_dataset", "validate"]


def build_default(*args, **kwargs):
    from optimiser.dataset.default import build_default as _build

    return _build(*args, **kwargs)


def import_dataset(*args, **kwargs):
    from optimiser.dataset.importers import import_dataset as _import

    return _import(*args, **kwargs)
