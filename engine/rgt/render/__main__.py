"""`python -m rgt.render [PATH]`: rewrite docs/job.schema.json from the job spec's models."""
import sys
from pathlib import Path

from .spec import json_schema

Path(sys.argv[1] if len(sys.argv) > 1 else "docs/job.schema.json").write_text(json_schema(), encoding="utf-8")
