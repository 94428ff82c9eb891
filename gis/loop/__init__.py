"""The closed loop of a grid event (事件闭环): states, deadlines, lights, audit, supervision.

The modules are small and each does one thing:

* :mod:`gis.loop.states`: the transitions table (action → from states, to state, roles).
* :mod:`gis.loop.sla`: deadlines per category and priority, and the on-time rule.
* :mod:`gis.loop.lights`: the three lights (green / yellow / red), in Python and in SQL.
* :mod:`gis.loop.actions`: :func:`~gis.loop.actions.transition`, the only way an event moves.
* :mod:`gis.loop.audit`: the hash-chained, append-only ``event_log`` and its verification.
* :mod:`gis.loop.board`: the 三灯一牌 board by department, street and grid.
* :mod:`gis.loop.supervision`: overdue events to supervision (督办), reminders for yellow ones.
* :mod:`gis.loop.intake`: validating an intake (district, category, text limits, grid).
* :mod:`gis.loop.intake_db`: writing intakes in group commits, duplicates within 50 m / 24 h,
  and merging a duplicate.

Nothing here is imported by ``gis/__init__``; ``config.settings`` imports :mod:`gis.loop.sla`
for its defaults, so that module must stay free of database imports.
"""
