"""rgt — remote GPU trainer: the operating knowledge of long GPU jobs, made executable."""
__version__ = "0.1.0"
