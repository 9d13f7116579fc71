"""The playground apps: each module has a function returning a Panel object."""
