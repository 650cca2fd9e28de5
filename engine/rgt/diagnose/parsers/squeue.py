"""squeue: this user's pending jobs, `squeue -u <me> -h -t PENDING -o '%i|%j|%P|%l|%r'`,
followed by squeue's exit status as `rgt-done rc=N`.

One row per pending job: id, name, partition, time limit, and the Reason the scheduler gives for
holding it. A reason may carry detail after a comma ("ReqNodeNotAvail, Reserved for maintenance");
only the reason word is kept. With `rgt-done rc=0` and no row, no job of this user is pending:
that is a reading (0 jobs). Without rows and without rc=0 (no controller, no squeue) nothing is
read.

`slurm_pending_stuck` holds the reasons that do not clear while the job waits: the request itself
is over a limit (PartitionTimeLimit, PartitionNodeLimit, a per-job QOS or association maximum),
names something that does not exist (InvalidAccount, InvalidQOS, BadConstraints), depends on a job
that can no longer satisfy it (DependencyNeverSatisfied), or is held until someone releases it
(JobHeldUser, JobHeldAdmin). Resources, Priority, Dependency, BeginTime and aggregate limits
(AssocGrp*, QOSGrp*, per-user maxima) end by themselves as other jobs finish.
"""
from __future__ import annotations

import re

from rgt.diagnose.observation import Observations
from rgt.diagnose.parsers._common import content_lines, done, obs

OBSERVES: dict[str, str] = {
    "slurm_pending_jobs": "int",          # this user's jobs in PENDING
    "slurm_pending_reasons": "list[str]",  # their Reason words, distinct, first-seen order
    "slurm_pending_stuck": "list[str]",    # of those, the ones that never clear while the job waits
}
_JOB_ID = re.compile(r"^\d+(?:_(?:\d+|\[[^\]]*\]))?$")  # 42, an array task 42_3, or pending tasks 42_[4-9]
_STUCK = re.compile(r"^(?:PartitionTimeLimit|PartitionNodeLimit|InvalidAccount|InvalidQOS|BadConstraints"
                    r"|DependencyNeverSatisfied|JobHeldUser|JobHeldAdmin|(?:QOS|Assoc)Max\w*PerJob\w*)$")


def parse(text: str) -> Observations:
    lines = content_lines(text)
    rows = []
    for ln in lines:
        fields = ln.split("|")
        if len(fields) == 5 and _JOB_ID.match(fields[0].strip()):
            rows.append((fields[4].split(",")[0].strip(), ln))
    if not rows:
        closing = done(lines)
        if closing is not None and closing[0] == 0:
            return {"slurm_pending_jobs": obs(0, closing[1]), "slurm_pending_reasons": obs([], closing[1]),
                    "slurm_pending_stuck": obs([], closing[1])}
        return {}
    stuck = [(reason, ln) for reason, ln in rows if _STUCK.match(reason)]
    return {
        "slurm_pending_jobs": obs(len(rows), rows[0][1]),
        "slurm_pending_reasons": obs(list(dict.fromkeys(r for r, _ in rows)), rows[0][1]),
        "slurm_pending_stuck": obs(list(dict.fromkeys(r for r, _ in stuck)), (stuck or rows)[0][1]),
    }
