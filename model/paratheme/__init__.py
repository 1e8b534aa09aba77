"""paratheme: label every paragraph of a Chinese news or government page with its theme."""

import logging

from .labels import LABELS, THEMES
from .pages import Block, PageError, read_page

__all__ = ["LABELS", "THEMES", "Block", "PageError", "read_page"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
