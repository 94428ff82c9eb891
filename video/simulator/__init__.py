"""Simulated RTSP cameras on loopback for the demo, the tests and the benchmarks.

See ``docs/simulator.md``. The venv side is :mod:`video.simulator.controller`; the camera
processes run ``gst_server.py`` (GStreamer) and ``fault_server.py`` (hang / garbage).
"""

from video.simulator.controller import (
    CameraSpec,
    FaultServer,
    SimulatedCamera,
    Simulator,
    StreamProfile,
    check_profile,
    check_setup,
    default_cameras,
)

__all__ = ["CameraSpec", "FaultServer", "SimulatedCamera", "Simulator", "StreamProfile",
           "check_profile", "check_setup", "default_cameras"]
