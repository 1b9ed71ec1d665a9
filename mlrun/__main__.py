"""`python -m mlrun ...` is the same as the `mlrun` command."""

from mlrun.cli import main

if __name__ == "__main__":
    main()
