"""Simulated stand-ins of the course's datasets, with a known ground truth.

Each submodule writes one dataset at the layout of its real archive and returns its
ground truth: :mod:`~data_fetchers.simulate.haxby`, :mod:`~data_fetchers.simulate.miyawaki`
and :mod:`~data_fetchers.simulate.adhd` (``ensure(root, ...)`` in each). The submodules are
imported lazily by the fetchers, so importing this package stays cheap.
"""
