"""mlrun's warm-pool launcher for Hydra: `hydra/launcher=pool` (mlrun/sweep/pool.py does the work)."""
