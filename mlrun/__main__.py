"""`python -m mlrun ...` is the same as the `mlrun` command."""

from mlrun.cli import entry

if __name__ == "__main__":
    entry()
