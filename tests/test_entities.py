"""What diagnose reads out of the user's words: a mention the user denies is not said, and a
training precision counts only when exactly one is named."""
from __future__ import annotations

import pytest

from rgt.diagnose.entities import extract


@pytest.mark.parametrize("text, name, value", [
    # denied mentions are not said
    ("box killed, exit 137, no cuda oom message", "said_cuda_oom", False),
    ("killed without any CUDA OOM", "said_cuda_oom", False),
    ("I was not killed by OOM, it just hung", "said_killed", False),
    ("it didn't get killed", "said_killed", False),
    ("没有被kill，显存不足", "said_killed", False),
    ("没有报显存不足 但是被kill了", "said_cuda_oom", False),
    # a negation in another clause, or a hedge, denies nothing
    ("no error but killed", "said_killed", True),
    ("没有报显存不足 但是被kill了", "said_killed", True),
    ("not sure why killed", "said_killed", True),
    ("no idea why it got killed", "said_killed", True),
    ("didn't finish because killed", "said_killed", True),
    ("没想到被kill了", "said_killed", True),
    ("there is no space left on device", "said_no_space", True),  # the phrase itself starts with "no"
    ("CUDA out of memory", "said_cuda_oom", True),
    # precision: exactly one named, undenied
    ("loss nan with bf16 on A100", "said_precision", "bf16"),
    ("torch.bfloat16 autocast gives nan", "said_precision", "bf16"),  # not float16 inside bfloat16
    ("dtype=torch.float16 nan", "said_precision", "fp16"),
    ("half precision overflow", "said_precision", "fp16"),
    ("单精度训练也 nan", "said_precision", "fp32"),
    ("not using fp16, bf16 only, loss nan", "said_precision", "bf16"),
    ("training works in fp32 but nan in fp16", "said_precision", None),
    ("loss nan with mixed precision", "said_precision", None),
])
def test_what_the_user_said(text, name, value):
    assert extract(text)[name] == value
