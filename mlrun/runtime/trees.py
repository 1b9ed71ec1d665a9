"""Plain nested data (dicts and lists) read from files: walked without trusting its shape."""


def walk(tree, prefix: str = ""):
    """(dotted path, value) of every node of plain nested dicts/lists, containers included, depth first."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        path = f"{prefix}{key}"
        yield path, value
        yield from walk(value, f"{path}.")
