"""`rgt pull`: copy a directory off a box and prove the copy before anyone destroys the box.

manifest (what the box holds, hashed on the box), fetch (rsync or SFTP, resumable), verify (the
local copy against the box's hashes), pull (per host, and the verdict on a destroy)."""
