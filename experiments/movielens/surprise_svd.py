"""Surprise's SVD and SVD++ on ml-100k with 5-fold CV, timed; run in a separate venv with scikit-surprise.

    python3 -m venv /tmp/surprise-venv && /tmp/surprise-venv/bin/pip install "numpy<2" scikit-surprise
    OMP_NUM_THREADS=1 /tmp/surprise-venv/bin/python experiments/movielens/surprise_svd.py \
        /work/shared/data/ml-100k [svdpp]

Reads u.data directly (no download). Prints the RMSE of each fold, mean ± std (numpy std, ddof=0) and the
seconds (wall and process CPU) to fit and test all folds (data loading excluded).
"""

import sys
import time

import numpy as np
from surprise import SVD, SVDpp, Dataset, Reader, accuracy
from surprise.model_selection import KFold

root = sys.argv[1]
algos = {"svd": SVD, "svdpp": SVDpp}
names = sys.argv[2:] or ["svd"]
data = Dataset.load_from_file(f"{root}/u.data", reader=Reader(line_format="user item rating timestamp", sep="\t"))
for name in names:
    rmses, start, cpu = [], time.perf_counter(), time.process_time()
    for trainset, testset in KFold(n_splits=5, random_state=0).split(data):
        algo = algos[name](random_state=0)
        algo.fit(trainset)
        rmses.append(accuracy.rmse(algo.test(testset), verbose=False))
    seconds = time.perf_counter() - start
    print(f"{name}: folds {' '.join(f'{r:.4f}' for r in rmses)}  mean {np.mean(rmses):.4f} ± {np.std(rmses):.4f}  "
          f"{seconds:.2f} s for 5 folds (process CPU {time.process_time() - cpu:.2f} s)")
