"""mlni: the helper package of the course *Machine learning for neuroimaging with scikit-learn*.

Modules
-------
image       load, resample, smooth, average and index NIfTI images
masking     4D images to (n_samples, n_voxels) arrays and back
signal      detrending, standardisation, filtering and confound removal
plotting    slice overlays, weight maps, pixel images, parcellations
searchlight per-sphere and fast whole-brain searchlight
widgets     interactive figures (live with a kernel, pre-rendered in the static book)
"""

__version__ = "0.1.0"
