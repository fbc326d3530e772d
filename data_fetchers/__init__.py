"""data_fetchers: the course's datasets, real (downloaded) or simulated (generated offline)."""
