"""The grader's worker process: runs notebooks in fresh, sandboxed kernels, one job after another.

Started by :class:`course_utils.grading.execute.Worker` as ``python -m course_utils.grading.worker``.
It reads one job per line on standard input (JSON: the notebook to run and how) and answers on
standard output with JSON lines: ``{"kernel_pid": N}`` when the kernel is up, then
``{"done": true, ...}`` with the executed notebook. The kernel runs in the job's isolation (see
:mod:`.sandbox`), in a scratch folder of its own that is deleted once the kernel and every process
it started are dead; it writes nothing to the worker's channel (its own output goes to the log).

One worker runs many submissions (each in its own fresh kernel), so the slow imports of nbclient
and nbformat are paid once per worker, not once per submission. The worker dies with the grader
(``PR_SET_PDEATHSIG``), and the sandbox with the worker (``bwrap --die-with-parent``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from . import sandbox

GRADER_CELL_OUTPUT = 3_000_000   # bytes of output kept in one grader cell (the record is at most 1 MB)
MAX_MESSAGE = 64 * 2**20         # bytes of one message from the kernel; a larger one cuts the kernel off


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the grader that started it dies (no-op elsewhere)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def kernel_manager(job: dict, scratch, uid):
    """A jupyter_client kernel manager that starts ipykernel inside the job's isolation, talking over
    Unix sockets in ``scratch`` (owned by ``uid`` when the kernel gets a uid of its own)."""
    from jupyter_client.manager import AsyncKernelManager

    isolation = sandbox.Isolation(**job["isolation"])
    limits = sandbox.Limits(**job["limits"])

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            # ipykernel would take its parent (pid 1 inside a PID namespace) for dead and quit; the sandbox
            # dies with the worker anyway (bwrap --die-with-parent, unshare --kill-child)
            cmd = [isolation.python()] + cmd[1:] + ["--IPKernelApp.parent_handle=0"]
            if uid is not None:   # written by this (root) process just now: the kernel's uid must read it
                os.chown(self.connection_file, uid, uid)
            return isolation.command(cmd, scratch, limits, uid, gpu=job["mode"] == "gpu")

        def client(self, **kwargs):   # nbclient's client shares this context and its message-size limit
            kwargs.setdefault("context", self.context)
            return super().client(**kwargs)

    import zmq
    import zmq.asyncio

    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)   # a kernel cannot make this process swallow a huge message
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc", ip=str(scratch / "ipc"),
                                connection_file=str(scratch / "connection.json"), context=context)
    km.kernel_spec.interrupt_mode = "message"   # a signal would stop at bwrap; ipykernel interrupts itself
    return km


def run_job(job: dict, send) -> dict:
    """Run ``job["notebook"]`` in a fresh sandboxed kernel; return the executed notebook and what went wrong."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.reads(json.dumps(job["notebook"]), as_version=4)
    timed_out: list[int] = []
    completed: list[int] = []
    seconds: dict[int, float] = {}
    limit = int(job["max_output"])
    stop_after = job.get("stop_after")
    grader_cells = set(job.get("grader_cells", ()))
    isolation = sandbox.Isolation(**job["isolation"])
    uid = sandbox.fresh_uid() if isolation.drop_uid else None
    scratch = sandbox.make_scratch(uid)
    send({"scratch": str(scratch), "uid": uid})   # the grader removes it (and ends the uid's processes) if it
                                                  # has to kill this worker

    class Client(NotebookClient):
        async def _async_handle_timeout(self, timeout, cell=None):
            index = next((i for i, c in enumerate(nb.cells) if c is cell), -1)
            if index in timed_out:  # the interrupt did not stop it: give up on the notebook
                raise CellTimeoutError.error_from_timeout_and_cell("interrupt ignored", timeout, cell)
            timed_out.append(index)
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            # Cap what a cell may print: a cell printing megabytes must not fill memory or the report.
            # A grader cell keeps more (its record can be up to a megabyte).
            content = msg.get("content", {})
            size = len(json.dumps(content, default=str))
            used = self.sizes.get(cell_index, 0)
            self.sizes[cell_index] = used + size
            cap = GRADER_CELL_OUTPUT if cell_index in grader_cells else limit
            if used + size > cap:
                if used <= cap:
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[grader: output truncated after {cap} bytes]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    prologue_cells = set(job.get("prologue_cells", ()))

    def timeout_of(cell):   # the grader's own imports are not the submission's time
        index = next((i for i, c in enumerate(nb.cells) if c is cell), -1)
        return max(float(job["timeout"]), 300.0) if index in prologue_cells else job["timeout"]

    km = kernel_manager(job, scratch, uid)
    process = namespace = None
    cpu = 0.0
    client = Client(nb, km=km, timeout_func=timeout_of, interrupt_on_timeout=True, allow_errors=True,
                    shutdown_kernel="immediate", resources={"metadata": {"path": str(scratch)}})
    client.sizes = {}  # output bytes so far, per cell index
    aborted = None
    env = sandbox.kernel_env(scratch, job["mode"], job.get("threads"))
    try:
        with client.setup_kernel(cwd=str(scratch), env=env, stdin=subprocess.DEVNULL, stdout=job["log"],
                                 stderr=job["log"], cleanup_kc=True):
            process = getattr(km.provisioner, "process", None)
            namespace = sandbox.pid_namespace(process.pid) if process is not None else None
            send({"kernel_pid": getattr(process, "pid", None), "namespace": namespace})
            for index, cell in enumerate(nb.cells):
                if stop_after is not None and index > stop_after:
                    break
                start = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                finally:
                    seconds[index] = round(time.perf_counter() - start, 3)
                completed.append(index)
            # before the kernel is shut down: a killed kernel's CPU time reaches no one's accounting
            cpu = sandbox.cpu_seconds(namespace, getattr(process, "pid", None))
    except DeadKernelError as err:
        aborted = {"status": "error", "message": f"the kernel died ({err}): the notebook crashed Python, ran out "
                   "of memory or past its CPU-time limit"}
    except CellTimeoutError:
        aborted = {"status": "timeout", "message": f"a cell ran past the time limit of {job['timeout']} s and "
                   "ignored the interrupt; the rest of the notebook was not run"}
    except Exception as err:  # noqa: BLE001 - report, never crash
        aborted = {"status": "error", "message": f"the notebook could not be run: {type(err).__name__}: {err}"}
    finally:
        _kill(process)
        km.context.destroy(linger=0)
        ended = sandbox.wait_until_empty(namespace)
        if isolation.method == "setpriv":   # no PID namespace: the kernel's uid marks its processes
            ended = sandbox.end_processes_of(uid) and ended
        if not ended:
            aborted = {"status": "error", "message": "processes of the submission were still running after its "
                       "kernel was killed"}
        shutil.rmtree(scratch, ignore_errors=True)
    return {"done": True, "executed": nb, "timed_out": timed_out, "completed": completed, "aborted": aborted,
            "seconds": {str(k): v for k, v in seconds.items()}, "cpu_seconds": round(cpu, 2)}


def _kill(process) -> None:
    """Make sure the kernel's sandbox is gone: its first process (a ``Popen``) killed and waited for, which
    in a PID namespace takes every process the submission started with it."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 9)
    except OSError:
        try:
            process.kill()
        except OSError:
            pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def main() -> int:
    """Serve jobs from standard input until it closes."""
    _die_with_parent()
    channel = sys.stdout
    sys.stdout = sys.stderr  # anything else that prints goes to the log, never into the answers

    def send(message: dict) -> None:
        channel.write(json.dumps(message, default=str) + "\n")
        channel.flush()

    for line in sys.stdin:
        try:
            job = json.loads(line)
        except json.JSONDecodeError:
            continue
        try:
            with open(job["log_path"], "ab") as log:
                job["log"] = log.fileno()
                send(run_job(job, send))
        except BaseException as err:  # noqa: BLE001 - the grader reads the answer, never a traceback
            send({"done": True, "executed": None, "timed_out": [], "completed": [], "seconds": {},
                  "aborted": {"status": "error", "message": f"the grader's worker failed: {type(err).__name__}: "
                              f"{err}"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
