"""`python -m framework` is the `medallion` command."""

from framework.cli import main

if __name__ == "__main__":
    main()
