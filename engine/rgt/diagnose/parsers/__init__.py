"""One parser per probe: text in, observations out. A plain registry, name -> parser module.

Every parser module defines `OBSERVES` (observation name -> type name, for lint and docs) and
`parse(text: str) -> Observations`. Parsers never run commands and never import a transport.
Empty or unreadable input yields the observations it can vouch for (often none), never a guess.
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

# probe parser name -> module under rgt.diagnose.parsers
_MODULES = {
    "kernel_log": "kernel_log",
    "uptime": "uptime",
    "last": "last",
    "nvidia_smi": "nvidia_smi",
    "nvidia_smi_q": "nvidia_smi_q",
    "gpu_csv": "gpu_csv",
    "gpu_holders": "gpu_holders",
    "df": "df",
    "df_inodes": "df_inodes",
    "cgroup_memory": "cgroup_memory",
    "meminfo": "meminfo",
    "free": "free",
    "ps": "ps",
    "code_age": "code_age",
    "torch_cuda": "torch_cuda",
    "sacct": "sacct",
    "squeue": "squeue",
    "k8s_pods": "k8s_pods",
    "cpu_quota": "cpu_quota",
    "fabricmanager": "fabricmanager",
    "peer_mtu": "peer_mtu",
    # training logs, pasted or read with --log
    "py_traceback": "py_traceback",
    "cuda_oom": "cuda_oom",
    "nccl": "nccl",
    "loss_series": "loss_series",
    "dataloader": "dataloader",
    "torchrun": "torchrun",
    "loss_scale": "loss_scale",
    "training_log": "training_log",
    "run_files": "run_files",
}


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str) -> ModuleType:
    """The parser module for `name`; KeyError when there is none."""
    return import_module(f"{__name__}.{_MODULES[name]}")
