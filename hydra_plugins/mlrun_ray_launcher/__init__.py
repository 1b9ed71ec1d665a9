"""mlrun's Ray launcher for Hydra: `hydra/launcher=ray` (mlrun/sweep/ray_jobs.py does the work)."""
