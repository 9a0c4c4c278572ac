"""medmir: private medical image retrieval with BiomedCLIP, from an offline pipeline to a static site."""

__version__ = "0.1.0"
