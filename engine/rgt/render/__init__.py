"""`rgt render`: the job spec (spec), the shell-quoting filter (quoting) and the box scripts
rendered from templates/ (rendering)."""
from .quoting import shell_word
from .rendering import (
           EXIT,
           EXIT_CODES,
           choose_variant,
           render,
           render_job,
           render_profile,
           write,
)
from .spec import Cell, JobSpec, load_job, parse_job

__all__ = ["EXIT", "EXIT_CODES", "Cell", "JobSpec", "choose_variant", "load_job", "parse_job", "render",
           "render_job", "render_profile", "shell_word", "write"]
