"""shb: a symbolic-plus-numeric verification toolkit for short-horizon bias (Wu et al., ICLR 2018).

Everything installs under the one package `shb`, while the source folders stay where they are:

    shb/          the ground floor (shb.ground) and the front end (shb.cli)
    symbolic/     -> shb.symbolic      SymPy derivations and code generation
    numeric/      -> shb.numeric       the NQM engine and the networks (and the generated module)
    proofs/       -> shb.proofs        machine-checked proofs
    experiments/  -> shb.experiments   the verified figures and the report
    docs/         -> shb.docs          generated documents, shipped so an installed toolkit can verify them
"""
from setuptools import find_packages, setup

FOLDERS = {
    "shb": "shb",
    "shb.symbolic": "symbolic",
    "shb.numeric": "numeric",
    "shb.proofs": "proofs",
    "shb.experiments": "experiments",
    "shb.docs": "docs",
}
PACKAGES = [sub for name, folder in FOLDERS.items() for sub in [name] + [f"{name}.{p}" for p in find_packages(folder)]]

setup(
    name="shb",
    version="0.1.0",
    description="Verified reproduction of 'Understanding Short-Horizon Bias in Stochastic Meta-Optimization'",
    python_requires=">=3.11",
    packages=PACKAGES,
    package_dir=FOLDERS,
    package_data={"shb.docs": ["*.md"], "shb.experiments": ["sensitivity/*.json"],
                  "shb.numeric": ["nqm/generated_stamp.json"]},
    install_requires=[
        # sympy is pinned exactly: the generated code is compared byte for byte
        # by `shb derive --check`, and SymPy's printers change between releases.
        "sympy==1.14.0",
        "numpy>=1.24",
        "autograd>=1.6",
        "matplotlib>=3.7",
        # one BLAS thread for work that runs in this process (no Dask): shb.ground.blas
        "threadpoolctl>=3",
    ],
    extras_require={
        # setuptools >= 70.1 builds wheels by itself: the wheel test builds one without network access
        "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6.80", "dask[distributed]>=2024.1", "setuptools>=70.1"],
        "dist": ["dask[distributed]>=2024.1"],
    },
    entry_points={"console_scripts": ["shb = shb.cli:main"]},
)
