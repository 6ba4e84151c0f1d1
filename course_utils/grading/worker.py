"""The grader's worker process: runs notebooks in fresh kernels, one job after another.

Started by :class:`course_utils.grading.execute.Worker` as ``python -m course_utils.grading.worker``.
It reads one job per line on standard input (JSON: the notebook to run and how) and answers on
standard output with JSON lines: ``{"kernel_pid": N}`` when the kernel is up, then
``{"done": true, ...}`` with the executed notebook. The kernel it starts writes nothing to that
channel (its own output goes to the log), and no file is shared with the kernel, so a submission
cannot write the worker's answer.

One worker runs many submissions (each in its own fresh kernel), so the slow imports of nbclient
and nbformat are paid once per worker, not once per submission.
"""
from __future__ import annotations

import json
import subprocess
import sys


def run_job(job: dict, send) -> dict:
    """Run ``job["notebook"]`` in a fresh kernel; return the executed notebook and what went wrong."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .kernel_side import RECORD_PREFIX

    nb = nbformat.reads(json.dumps(job["notebook"]), as_version=4)
    # The prologue (the grader's fingerprint) runs as an extra first cell, taken out again at the end;
    # indices below are those of the job's notebook (the prologue's is -1).
    offset = 1 if job.get("prologue") else 0
    if offset:
        nb.cells.insert(0, nbformat.v4.new_code_cell(job["prologue"]))
    timed_out: list[int] = []
    completed: list[int] = []
    limit = int(job["max_output"])
    stop_after = job.get("stop_after")
    grader_cells = {i + offset for i in job.get("grader_cells", ())} | ({0} if offset else set())

    class Client(NotebookClient):
        async def _async_handle_timeout(self, timeout, cell=None):
            index = next((i for i, c in enumerate(nb.cells) if c is cell), -1)
            if index - offset in timed_out:  # the interrupt did not stop it: give up on the notebook
                raise CellTimeoutError.error_from_timeout_and_cell("interrupt ignored", timeout, cell)
            timed_out.append(index - offset)
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            # Cap what a cell may print: a cell printing megabytes must not fill memory or the report.
            # In the grader's own cells, the record line of the check is always kept.
            content = msg.get("content", {})
            if cell_index in grader_cells and RECORD_PREFIX in str(content.get("text", "")):
                return super().output(outs, msg, display_id, cell_index)
            size = len(json.dumps(content, default=str))
            used = self.sizes.get(cell_index, 0)
            self.sizes[cell_index] = used + size
            if used + size > limit:
                if used <= limit:
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[grader: output truncated after {limit} bytes]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    prologue_timeout = max(float(job["timeout"]), 300.0)  # the grader's own imports, not the learner's time

    def timeout_of(cell):
        return prologue_timeout if offset and cell is nb.cells[0] else job["timeout"]

    client = Client(nb, timeout_func=timeout_of, interrupt_on_timeout=True, allow_errors=True,
                    kernel_name="python3", resources={"metadata": {"path": job["cwd"]}})
    client.sizes = {}  # output bytes so far, per cell index
    aborted = None
    try:
        with client.setup_kernel(cwd=job["cwd"], stdin=subprocess.DEVNULL, stdout=job["log"], stderr=job["log"]):
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
            send({"kernel_pid": pid})
            for index, cell in enumerate(nb.cells):
                if stop_after is not None and index - offset > stop_after:
                    break
                client.execute_cell(cell, index)
                completed.append(index - offset)
    except DeadKernelError as err:
        aborted = {"status": "error", "message": f"the kernel died ({err}): the notebook crashed Python "
                   "or ran out of memory"}
    except CellTimeoutError:
        aborted = {"status": "timeout", "message": f"a cell ran past the time limit of {job['timeout']} s and "
                   "ignored the interrupt; the rest of the notebook was not run"}
    except Exception as err:  # noqa: BLE001 - report, never crash
        aborted = {"status": "error", "message": f"the notebook could not be run: {type(err).__name__}: {err}"}
    prologue = nb.cells.pop(0) if offset else None
    return {"done": True, "executed": nb, "timed_out": timed_out, "completed": [i for i in completed if i >= 0],
            "aborted": aborted, "prologue_outputs": prologue.outputs if prologue is not None else []}


def main() -> int:
    """Serve jobs from standard input until it closes."""
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
            send({"done": True, "executed": None, "timed_out": [], "completed": [], "prologue_outputs": [],
                  "aborted": {"status": "error", "message": f"the grader's worker failed: {type(err).__name__}: "
                              f"{err}"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
