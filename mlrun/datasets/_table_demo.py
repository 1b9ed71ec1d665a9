"""Made-up files with the schemas of two public tables, to try `dataset=table` without downloading anything:

    python -m mlrun.datasets._table_demo            # writes data/{wine.csv,adult.parquet,train.csv,test.csv}
    python -m mlrun.datasets._table_demo --rows 5000 --out /tmp/demo      # into /tmp/demo/data/

Everything goes into `<out>/data/` (`data/` is git-ignored in mlrun's repository), never loose into the folder:
data/wine.csv      the UCI "Wine Quality" (red) layout: ';'-separated, quoted header, 11 measurements, quality 3–8
data/adult.parquet the UCI "Adult" census layout: 14 columns (8 text, '?' → missing), income <=50K / >50K
data/train.csv, data/test.csv  a small mixed table: numbers with gaps, a colour, a boolean, an id, a 3-class label

The rows are random numbers shaped like the real data with a learnable target; they are not the real datasets.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

WINE = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
        "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]


def wine_frame(rows: int = 1599, seed: int = 0):
    """The red wine columns with plausible values and an integer quality 3–8 that depends on them."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    centre = np.array([8.3, 0.53, 0.27, 2.5, 0.087, 15.9, 46.5, 0.9967, 3.31, 0.66, 10.4])
    spread = np.array([1.7, 0.18, 0.19, 1.4, 0.047, 10.5, 32.9, 0.0019, 0.15, 0.17, 1.07])
    z = rng.normal(size=(rows, len(WINE)))
    weights = np.array([0.05, -0.4, 0.1, 0.0, -0.1, 0.05, -0.15, -0.1, -0.05, 0.3, 0.5])
    quality = np.clip(np.round(5.6 + 0.9 * z @ weights + rng.normal(0, 0.3, rows)), 3, 8).astype(int)
    frame = pd.DataFrame(np.round(centre + spread * z, 5), columns=WINE)
    frame["quality"] = quality
    return frame


def write_wine(path, frame) -> Path:
    """As UCI ships winequality-red.csv: ';'-separated, the header quoted, numbers bare."""
    frame.to_csv(path, sep=";", index=False, quoting=csv.QUOTE_NONNUMERIC)
    return Path(path)


def adult_frame(rows: int = 5000, seed: int = 0):
    """The Adult census columns; income depends on education, age, hours and capital gain."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    education = {"Bachelors": 13, "HS-grad": 9, "Some-college": 10, "Masters": 14, "Assoc-voc": 11, "11th": 7,
                 "Doctorate": 16}
    names = list(education)
    edu = rng.choice(names, rows, p=[0.2, 0.32, 0.22, 0.08, 0.08, 0.06, 0.04])
    edu_num = np.array([education[e] for e in edu])
    age = rng.integers(17, 80, rows)
    hours = np.clip(rng.normal(40, 12, rows), 1, 99).round().astype(int)
    gain = np.where(rng.random(rows) < 0.08, rng.integers(1000, 20000, rows), 0)
    score = 0.35 * (edu_num - 10) + 0.04 * (age - 38) + 0.03 * (hours - 40) + gain / 5000 + rng.normal(0, 1, rows)
    workclass = rng.choice(["Private", "Self-emp-not-inc", "Local-gov", "State-gov", "Federal-gov"],
                           rows).astype(object)
    occupation = rng.choice(["Prof-specialty", "Craft-repair", "Exec-managerial", "Adm-clerical", "Sales"],
                            rows).astype(object)
    workclass[rng.random(rows) < 0.05] = None                    # the real file marks these '?'
    occupation[rng.random(rows) < 0.05] = None
    return pd.DataFrame({
        "age": age, "workclass": workclass, "fnlwgt": rng.integers(12000, 1_500_000, rows), "education": edu,
        "education-num": edu_num, "marital-status": rng.choice(["Married-civ-spouse", "Never-married", "Divorced"],
                                                               rows),
        "occupation": occupation, "relationship": rng.choice(["Husband", "Not-in-family", "Own-child", "Wife"], rows),
        "race": rng.choice(["White", "Black", "Asian-Pac-Islander", "Other"], rows, p=[0.85, 0.1, 0.03, 0.02]),
        "sex": rng.choice(["Male", "Female"], rows), "capital-gain": gain, "capital-loss": np.zeros(rows, int),
        "hours-per-week": hours, "native-country": rng.choice(["United-States", "Mexico", "India", "Germany"], rows,
                                                              p=[0.9, 0.05, 0.03, 0.02]),
        "income": np.where(score > 0.9, ">50K", "<=50K"),
    })


def mixed_frame(rows: int = 600, seed: int = 0):
    """Numbers with gaps, a colour with gaps, a boolean, an id, and a 3-class label that depends on them."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows).round(2)
    weight = (2 * size + rng.normal(0, 2, rows)).round(2)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    fresh = rng.random(rows) > 0.5
    score = size - 10 + 2.0 * (colour == "red") - 1.5 * fresh + rng.normal(0, 1, rows)
    label = np.select([score < -1, score < 1.5], ["small", "medium"], "large")
    size[rng.random(rows) < 0.05] = np.nan
    colour[rng.random(rows) < 0.05] = None
    return pd.DataFrame({"id": np.arange(rows), "size": size, "weight": weight, "colour": colour, "fresh": fresh,
                         "label": label})


def write_demo(out: Path, rows: int = 0, seed: int = 0) -> list[Path]:
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    written = [write_wine(out / "data" / "wine.csv", wine_frame(rows or 1599, seed))]
    adult = adult_frame(rows or 5000, seed)
    try:
        adult.to_parquet(out / "data" / "adult.parquet")
        written.append(out / "data" / "adult.parquet")
    except ImportError:
        print("skipped data/adult.parquet: writing Parquet needs pyarrow (pip install 'mlrun-classic[table]')")
    mixed = mixed_frame(rows or 600, seed)
    cut = int(0.8 * len(mixed))
    mixed.iloc[:cut].to_csv(out / "data" / "train.csv", index=False)
    mixed.iloc[cut:].to_csv(out / "data" / "test.csv", index=False)
    return written + [out / "data" / "train.csv", out / "data" / "test.csv"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlrun.datasets._table_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="the files go into <out>/data/ (default: ./data/)")
    parser.add_argument("--rows", type=int, default=0, help="rows per file (default: the real tables' sizes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_demo(Path(args.out), args.rows, args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
