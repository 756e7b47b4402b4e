"""Guideline compliance: catalogues, self-assessments, scoring, roadmap, check sheets, evidence.

The built-in catalogue is JAMA/JAPIA 2.3 (``load_builtin("jama-japia")``); METI SCS criteria
are imported from METI's CSV (:mod:`mamori.guideline.meti`). This package never touches
storage or the web: :mod:`mamori.guideline.service` defines the protocols the wiring layer
implements, and the CLI keeps assessments in JSON files.
"""

from mamori.guideline.assessment import (
    Answer,
    Assessment,
    EvidenceRef,
    Status,
    load_assessment,
    new_assessment,
    save_assessment,
    set_answer,
)
from mamori.guideline.loader import (
    CatalogueValidationError,
    load_builtin,
    load_catalogue,
    parse_catalogue,
    resolve_framework,
)
from mamori.guideline.models import Framework, Item, Label, ProvenanceStatus
from mamori.guideline.scoring import Score, catalogue_notice, score

__all__ = [
    "Answer",
    "Assessment",
    "CatalogueValidationError",
    "EvidenceRef",
    "Framework",
    "Item",
    "Label",
    "ProvenanceStatus",
    "Score",
    "Status",
    "catalogue_notice",
    "load_assessment",
    "load_builtin",
    "load_catalogue",
    "new_assessment",
    "parse_catalogue",
    "resolve_framework",
    "save_assessment",
    "score",
    "set_answer",
]
