"""Training on several devices: notebook 24's data parallelism and model parallelism.

One module per idea, imported where needed
(`from course_lib.distributed import multiprocess, scaling, sharding`):

- `sharding`: several devices on JAX: checked `DataParallel` and meshes, AlexNet's
  two-device `LayoutMap`, where each variable lives, what the devices send.
- `scaling`: the cost of data parallelism on paper (ring all-reduce, Amdahl).
- `multiprocess`: cooperating processes under one deadline (a cluster on one machine).
- `worker`: notebook 24's reference experiment and its worker process
  (`python -m course_lib.distributed.worker ...`).

The package imports none of its modules: a worker chooses its Keras backend and
its number of devices before Keras or JAX is imported, and
`python -m course_lib.distributed.worker` imports this file first.
"""

# The package re-exports nothing: its modules are its API (`from course_lib.distributed.scaling import LINKS`).
__all__ = []
