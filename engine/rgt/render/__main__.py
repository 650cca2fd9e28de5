"""`python -m rgt.render [PATH]`: rewrite docs/job.schema.json from the job spec's models."""
import argparse
from pathlib import Path

from .spec import json_schema

parser = argparse.ArgumentParser(prog="python -m rgt.render", description=__doc__)
# argparse, so `--help` prints this instead of becoming a file named "--help"
parser.add_argument("path", nargs="?", default="docs/job.schema.json", type=Path)
parser.parse_args().path.write_text(json_schema(), encoding="utf-8")
