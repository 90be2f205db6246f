"""Data for jaxnet: the course's generators, scikit-learn sets, MNIST/cat loaders, preprocessing.

Conventions: examples along axis 0. Generators are pure functions of a `jax.random` key and
return float32 X (m, n_x) with int32 labels (m,) (float32 targets (m,) for regression).
Course generators return jax.Arrays; file loaders and scikit-learn wrappers return NumPy
arrays (host memory), which every jaxnet function accepts.
"""

from jaxnet.datasets._paths import data_dir
from jaxnet.datasets.cat import load_cat_vs_noncat
from jaxnet.datasets.dates import (
    DATE_FORMATS,
    date_vocabularies,
    encode_dates,
    format_date,
    make_dates,
)
from jaxnet.datasets.download import download_file
from jaxnet.datasets.generators import housing_prices, planar_flower, spiral, xor_parity
from jaxnet.datasets.idx import read_idx
from jaxnet.datasets.mnist import (
    FASHION_MNIST_CHECKSUMS,
    FASHION_MNIST_MIRRORS,
    MNIST_CHECKSUMS,
    MNIST_MIRRORS,
    load_fashion_mnist,
    load_mnist,
)
from jaxnet.datasets.preprocessing import (
    Standardization,
    flatten_images,
    from_one_hot,
    one_hot,
    scale,
    standardize,
)
from jaxnet.datasets.scikit import (
    load_breast_cancer,
    load_digits,
    make_blobs,
    make_circles,
    make_classification,
    make_gaussian_quantiles,
    make_moons,
)
from jaxnet.datasets.splitting import minibatches, train_test_split
from jaxnet.datasets.tabular import load_csv
from jaxnet.datasets.text import load_dinos, load_text_lines
from jaxnet.datasets.vocab import CharVocab, char_vocab

__all__ = [
    "FASHION_MNIST_CHECKSUMS",
    "FASHION_MNIST_MIRRORS",
    "MNIST_CHECKSUMS",
    "MNIST_MIRRORS",
    "Standardization",
    "data_dir",
    "download_file",
    "flatten_images",
    "from_one_hot",
    "housing_prices",
    "load_breast_cancer",
    "load_cat_vs_noncat",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_blobs",
    "make_circles",
    "make_classification",
    "make_gaussian_quantiles",
    "make_moons",
    "minibatches",
    "one_hot",
    "planar_flower",
    "read_idx",
    "scale",
    "spiral",
    "standardize",
    "train_test_split",
    "xor_parity",
    # sequences (course 5)
    "CharVocab",
    "DATE_FORMATS",
    "char_vocab",
    "date_vocabularies",
    "encode_dates",
    "format_date",
    "load_dinos",
    "load_text_lines",
    "make_dates",
]
