"""Shared by the ratings datasets (task=ratings: movielens_100k, movielens_1m, ratings_csv, synthetic_ratings), one
job per module; this file imports nothing.

    source.py   the file's bytes: compression by magic bytes (gzip, bz2, xz, zip; never by name), text encodings
    cells.py    the id rule (ids are text; plain integers kept as int64) and the rating rule (finite, |r| ≤ 1e6)
    read.py     read_ratings: the fast typed pyarrow pass over a delimited text file
    diagnose.py the row-by-row pass that names the first bad line (or reads what the fast pass refused)
    parquet.py  read_ratings for Parquet files
    data.py     RatingsData and ratings_data: duplicates policy, split, ids remapped from the train split
    split.py    split_ratings: holdout, per-user leave-k-out, k folds
    grouplens.py, fetch.py   the MovieLens releases: titles, locate the files, download with an MD5 check
    pairs.py    `user,item` rows to predict for (`mlrun predict` input): read as text, mapped to train indices
"""
