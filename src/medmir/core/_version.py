"""The package version, in a leaf module so that nothing imports `medmir` (and with it the API) to learn it."""

__version__ = "0.1.0"
