"""The chapters of the book: short names (used by the records) and their page names."""

#: Short name of each chapter -> its notebook, without extension, in ``chapters/``.
CHAPTERS = {
    "sklearn_concepts": "01_sklearn_concepts",
    "data_preparation": "02_data_preparation",
    "haxby_decoding": "03_haxby_decoding",
    "searchlight": "04_searchlight",
    "miyawaki_decoding": "05_miyawaki_decoding",
    "miyawaki_encoding": "06_miyawaki_encoding",
    "resting_state_ica": "07_resting_state_ica",
    "parcellation": "08_parcellation",
    "going_further": "09_going_further",
}
