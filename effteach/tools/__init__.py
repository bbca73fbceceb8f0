"""Command-line tools that build the book, the notebooks and the assignments."""
