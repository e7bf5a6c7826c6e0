"""shb: a symbolic-plus-numeric verification toolkit for short-horizon bias (Wu et al., ICLR 2018)."""
from setuptools import find_packages, setup

setup(
    name="shb",
    version="0.1.0",
    description="Verified reproduction of 'Understanding Short-Horizon Bias in Stochastic Meta-Optimization'",
    python_requires=">=3.11",
    packages=find_packages(include=["shb*", "symbolic*", "numeric*", "proofs*", "experiments*"]),
    install_requires=[
        # sympy is pinned exactly: the generated code is compared byte for byte
        # by `shb derive --check`, and SymPy's printers change between releases.
        "sympy==1.14.0",
        "numpy>=1.24",
        "autograd>=1.6",
        "matplotlib>=3.7",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "dask[distributed]>=2024.1"],
        "dist": ["dask[distributed]>=2024.1"],
    },
    entry_points={"console_scripts": ["shb = shb.cli:main"]},
)
