"""The workloads, each a module with ``run(context)`` that appends its result cases."""

from . import cnn, deep, hvp, memory, mlp, relu, scale, tape

#: name -> module with ``run(context)``, in the order they are run and reported
WORKLOADS = {"tape": tape, "mlp": mlp, "cnn": cnn, "hvp": hvp, "deep": deep, "memory": memory,
             "relu": relu, "scale": scale}
