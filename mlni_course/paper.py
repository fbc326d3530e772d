"""What Abraham et al. (2014) report, for the chapters and the reproduction page to compare with.

Only what the paper's text and tables state (see ``shared/REFERENCE.md``): the paper reports no
Haxby accuracy, so none is kept here.
"""

#: Values of C in Table 1, in the paper's column order.
TABLE1_CS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)

#: Table 1: 5-fold accuracy on Miyawaki, mean +- standard deviation over the 100 pixels.
TABLE1 = {
    "l1_logistic": (".50+-.02", ".50+-.02", ".57+-.13", ".63+-.11", ".70+-.12", ".70+-.12"),
    "l2_logistic": (".60+-.11", ".61+-.12", ".63+-.13", ".63+-.13", ".64+-.13", ".64+-.13"),
    "l1_svc": (".50+-.06", ".55+-.12", ".69+-.11", ".71+-.12", ".69+-.12", ".68+-.12"),
    "l2_svc": (".67+-.12", ".67+-.12", ".67+-.12", ".66+-.12", ".65+-.12", ".65+-.12"),
}


def table1_cell(model, C):
    """The paper's Table 1 entry for one model and C, as ``(mean, std)`` floats.

    Parameters
    ----------
    model : {"l1_logistic", "l2_logistic", "l1_svc", "l2_svc"}
    C : float
        One of :data:`TABLE1_CS`.

    Returns
    -------
    tuple of float
    """
    if model not in TABLE1:
        raise ValueError(f"'model' must be one of {', '.join(TABLE1)}. Got {model!r}.")
    if C not in TABLE1_CS:
        raise ValueError(f"'C' must be one of {TABLE1_CS}. Got {C!r}.")
    mean, std = TABLE1[model][TABLE1_CS.index(C)].split("+-")
    return float(mean), float(std)
