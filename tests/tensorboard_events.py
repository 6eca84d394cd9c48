"""Reading TensorBoard event files back in tests."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader


def steps_in_write_order(run_dir: Path, tag: str) -> list[int]:
    """Steps logged for ``tag`` across every event file, in the order they were written.

    TensorBoard orders event files by name (creation second, then process id), so a run
    resumed within the same second as the crash would otherwise read out of order."""
    events = [
        (event.wall_time, event.step)
        for path in run_dir.glob("events.out.tfevents.*")
        for event in EventFileLoader(str(path)).Load()
        if any(value.tag == tag for value in event.summary.value)
    ]
    return [step for _, step in sorted(events)]
