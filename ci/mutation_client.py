"""cosmic-ray's test command in ``ci/mutation.py``: ask the server to test the mutant on disk.

Prints the server's verdict (kept in cosmic-ray's session as the mutant's output) and exits 0
when the mutant survived, 1 otherwise (killed, timeout, error), as cosmic-ray expects.
"""

import os
import socket
import sys

with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
    conn.connect(os.environ["MUTATION_SOCKET"])
    conn.sendall(b"test")
    verdict = b"".join(iter(lambda: conn.recv(4096), b"")).decode()
print(verdict)
sys.exit(0 if verdict.startswith("survived") else 1)
