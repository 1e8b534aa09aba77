"""paratheme: label every paragraph of a Chinese news or government page with its theme.

    from paratheme import Classifier
    clf = Classifier.from_pretrained()            # the shipped model/
    clf.classify_page(open("page.html", "rb").read())
"""

import logging

from .classifier import BlockPrediction, Classifier, ModelError
from .labels import LABELS, THEMES
from .pages import Block, PageError, read_page

__all__ = ["LABELS", "THEMES", "Block", "BlockPrediction", "Classifier", "ModelError", "PageError", "read_page"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
