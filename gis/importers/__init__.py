"""Importers: GeoJSON, GeoPackage, Shapefile, KML, CSV and XLSX into the spatial core.

The public entry point is :func:`import_file`; :func:`read_table` reads a file into WGS84
without writing anything (the district boundary goes through it).
"""

from gis.importers.columns import KINDS
from gis.importers.core import ImportRejected, ImportReport, ProgressCallback, import_file
from gis.importers.reader import read_table

__all__ = ["KINDS", "ImportRejected", "ImportReport", "ProgressCallback", "import_file",
           "read_table"]
