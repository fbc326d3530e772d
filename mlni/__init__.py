"""mlni: machine learning for neuroimaging, small readable helpers around scikit-learn.

Modules
-------
image          load, resample, smooth, average and index NIfTI images
masking        4D images to (n_samples, n_voxels) arrays and back
signal         detrending, standardisation, filtering and confound removal
plotting       slice overlays, weight maps, pixel images, parcellations
searchlight    per-sphere and fast whole-brain searchlight
decomposition  multi-subject spatial ICA and the comparison of spatial maps
miyawaki       the Miyawaki 2008 runs, per-pixel decoding (Table 1 of Abraham et al. 2014),
               encoding and receptive fields
widgets        interactive figures: live with a kernel, pre-rendered without one

It depends on the scientific Python stack (numpy, scipy, scikit-learn, nibabel, matplotlib,
pandas, joblib, tqdm; ipywidgets for ``widgets``) and on numba, which compiles the per-sphere
loop of the LDA searchlight. Nothing here knows about a book, its build or its recorded
results (that is ``mlni_course``), nor about where datasets come from (that is
``data_fetchers``).
"""

__version__ = "0.1.0"
