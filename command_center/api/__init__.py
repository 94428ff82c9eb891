"""The event intake API: Open311 GeoReport v2 over tornado (``command-center api serve``).

* :mod:`command_center.api.handlers`: the routes under ``/open311/v2/``.
* :mod:`command_center.api.open311`: categories as services, events as service requests.
* :mod:`command_center.api.openapi`: the OpenAPI 3.0 description served beside them.
* :mod:`command_center.api.writer`: group commit of intakes, and the periodic supervision sweep.
* :mod:`command_center.api.keys`: API clients and their hashed keys.
* :mod:`command_center.api.server`: the process that runs them all.

The rules themselves (validation, grids, duplicates, merge) live in :mod:`gis.loop.intake`
and :mod:`gis.loop.intake_db`, usable without HTTP.
"""
