import sys

from .cli import main

if __name__ == "__main__":     # worker processes of a local cluster import this module again: they must not run it
    sys.exit(main())
