"""Doctest collection of the package (pyproject's testpaths include numbaconv/): numbaconv.dask needs dask, an
optional extra, so its doctests are skipped where dask is not installed."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("dask") else ["numbaconv/dask.py"]
