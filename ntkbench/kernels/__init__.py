"""Kernels: the papers' closed forms, our native infinite-width kernels, empirical NTKs."""
