"""rnnlab: watch recurrent networks learn to read images as sequences. The core, free of any UI."""

__version__ = "0.1.0"
