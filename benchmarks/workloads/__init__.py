"""The workloads, each a function ``run(context) -> list of result cases``.

Workloads 3 (CNN training step) and 4 (Hessian-vector product) wait for the issues that bring
convolution layers and the transforms; see ``benchmarks/README.md``.
"""

from . import deep, memory, mlp, tape

#: name -> module with ``run(context)``, in the order they are run and reported
WORKLOADS = {"tape": tape, "mlp": mlp, "deep": deep, "memory": memory}
