"""A plugin package that cannot be imported: its method module needs a package that is not installed."""
