"""The one error the docs generator raises: something the user can fix, said in one sentence."""


class DocsError(Exception):
    """A problem that stops generation (missing Graphviz, an output folder we must not touch, ...)."""
