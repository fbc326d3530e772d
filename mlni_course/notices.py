"""The banner at the top of each chapter's results: real or simulated data."""

from __future__ import annotations

import html

__all__ = ["DataSourceBanner", "show_source"]

class DataSourceBanner:
    """A coloured note that says whether a page runs on real or simulated data.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        A dataset returned by one of the ``data_fetchers.fetch_*`` functions: its ``source``
        entry is ``"real"`` or ``"simulated"`` and its ``title`` names the dataset.
    """

    def __init__(self, bunch):
        source = bunch.get("source") if hasattr(bunch, "get") else None
        if source not in ("real", "simulated"):
            raise ValueError(
                "'bunch' must be a dataset from data_fetchers with source 'real' or "
                f"'simulated'. Got source={source!r}."
            )
        title = bunch.get("title")
        if not isinstance(title, str) or not title:
            raise ValueError(f"'bunch' must have a non-empty 'title'. Got title={title!r}.")
        self.source = source
        self.name = title

    def _message(self) -> tuple[str, str]:
        if self.source == "real":
            return (
                f"Real data: {self.name}.",
                "Numbers on this page can be compared with the published ones.",
            )
        return (
            f"Simulated data: a generated stand-in for {self.name}.",
            "Same files and layout as the real dataset, with effects planted where the real "
            "ones are expected, so every result can be checked against a known ground truth. "
            "Numbers differ from the paper's. To use the real data, run "
            "`python -m data_fetchers download all` on a machine with internet access.",
        )

    def __repr__(self) -> str:
        title, body = self._message()
        return f"[{self.source.upper()} DATA] {title} {body}"

    def _repr_html_(self) -> str:
        title, body = self._message()
        colour, border = ("#e8f4ea", "#2e7d32") if self.source == "real" else ("#fff4e0", "#e08a00")
        body = html.escape(body).replace("`", "")
        return (
            f'<div class="mlni-source mlni-source-{self.source}" style="background:{colour};'
            f"border-left:6px solid {border};padding:0.6em 1em;margin:0.5em 0;"
            f'color:#222"><b>{html.escape(title)}</b><br/>{body}</div>'
        )


def show_source(bunch):
    """Display a banner saying whether ``bunch`` holds real or simulated data.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        A dataset returned by ``data_fetchers.fetch_haxby``, ``fetch_miyawaki2008`` or
        ``fetch_adhd``.

    Returns
    -------
    None
        The banner is displayed by the call itself (a returned object would be shown twice
        when the call ends a cell).
    """
    from IPython.display import display

    display(DataSourceBanner(bunch))
