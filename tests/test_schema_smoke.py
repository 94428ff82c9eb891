import sqlalchemy as sa
from geoalchemy2 import Geography
from geoalchemy2.shape import to_shape

from gis.models import District


def test_district_loaded_in_wgs84(session):
    d = session.scalar(sa.select(District))
    shape = to_shape(d.geom)
    assert d.adcode == "511002"
    area = session.scalar(sa.select(sa.func.ST_Area(sa.cast(District.geom, Geography))))
    print(area / 1e6, shape.bounds)
    assert 330e6 < area < 440e6
