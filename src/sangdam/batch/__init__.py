"""Batch work over stored conversations (issue 16, item 5): after-call summaries, QA scoring, the insights report
and knowledge-base re-indexing, run either in-process (``local``: the embedded default, nothing else running) or as
Temporal workflows (``temporal``: any number of workers, retries, heartbeats, resumption after a worker dies).

Both engines call the same functions (``items.py``): list a job's items page by page, and process a batch of items,
each marked done in ``batch_items`` with its result so a retried batch skips what is done.

    contracts.py   the job names and the dataclasses passed between client, workflow and activities
    items.py       what a job's items are and how one is processed (the activities' bodies)
    workflow.py    the Temporal workflow (deterministic: only schedules activities)
    worker.py      the Temporal activities, the worker, and starting/awaiting a workflow
    local.py       the in-process engine
    devserver.py   a throwaway `temporal server start-dev` (tests, benchmarks, development)
    synthetic.py   generated conversations for tests and benchmarks
"""
