"""Transforms applied to a built dataset: `dataset.pca_components=k` (PCA scores fitted on train)."""

from mlrun.models.pca import maybe_project, without_pca  # noqa: F401 - moved here by the PCA work

__all__ = ["maybe_project", "without_pca"]
