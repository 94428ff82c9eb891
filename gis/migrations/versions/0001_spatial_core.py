"""spatial core

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Tables of the spatial core, then the rules the database enforces whoever writes: valid
geometries, everything inside the district, one A and one B worker per grid, and a geography
index so nearest-camera searches run KNN in true metres.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


GEOMETRY_TABLES = ("district", "street", "community", "grid", "courtyard", "camera", "event")
# Tables whose rows must lie inside the district (the district itself is the reference).
INSIDE_TABLES = ("street", "community", "grid", "courtyard", "camera", "event")

RULES_UP: list[str] = [
    # Validity, enforced for every writer. ST_IsValid on a point is trivially true but cheap.
    *(f"ALTER TABLE {t} ADD CONSTRAINT {t}_geom_valid CHECK (ST_IsValid(geom))"
      for t in GEOMETRY_TABLES),
    "ALTER TABLE district ADD CONSTRAINT district_check_geom_valid CHECK (ST_IsValid(check_geom))",
    # The district's tolerance band, computed in metres (EPSG:4544, CGCS2000 3-degree GK 105E).
    """
    CREATE FUNCTION cc_district_fill() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.check_geom := ST_Multi(ST_MakeValid(ST_Transform(
          ST_Buffer(ST_Transform(NEW.geom, 4544), GREATEST(NEW.tolerance_m, 0.01)), 4326)));
      RETURN NEW;
    END $$
    """,
    """CREATE TRIGGER district_fill BEFORE INSERT OR UPDATE OF geom, tolerance_m ON district
       FOR EACH ROW EXECUTE FUNCTION cc_district_fill()""",
    # Small pieces make the per-point check an index lookup plus a tiny polygon test.
    """
    CREATE FUNCTION cc_district_parts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM district_part;
      INSERT INTO district_part (geom)
        SELECT ST_Subdivide(check_geom, 64) FROM district;
      RETURN NULL;
    END $$
    """,
    """CREATE TRIGGER district_parts AFTER INSERT OR UPDATE OR DELETE ON district
       FOR EACH STATEMENT EXECUTE FUNCTION cc_district_parts()""",
    """
    CREATE FUNCTION cc_inside_district() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      inside boolean;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM district) THEN
        RAISE EXCEPTION '尚未导入辖区边界，无法写入 % / no district boundary loaded yet', TG_TABLE_NAME
          USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_inside_district';
      END IF;
      IF ST_GeometryType(NEW.geom) = 'ST_Point' THEN
        inside := EXISTS (SELECT 1 FROM district_part p WHERE ST_Intersects(p.geom, NEW.geom));
      ELSE
        inside := EXISTS (SELECT 1 FROM district d WHERE ST_CoveredBy(NEW.geom, d.check_geom));
      END IF;
      IF NOT inside THEN
        RAISE EXCEPTION '% % 的位置超出辖区范围 / % % lies outside the district',
            TG_TABLE_NAME, NEW.code, TG_TABLE_NAME, NEW.code
          USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_inside_district';
      END IF;
      RETURN NEW;
    END $$
    """,
    *(f"""CREATE TRIGGER {t}_inside_district BEFORE INSERT OR UPDATE OF geom ON {t}
          FOR EACH ROW EXECUTE FUNCTION cc_inside_district()""" for t in INSIDE_TABLES),
    # Exactly one A and one B per grid, checked at commit so a grid and its pair can be
    # written in any order within one transaction.
    """
    CREATE FUNCTION cc_check_grid_pair(gid integer) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      gcode text;
      n_a integer;
      n_b integer;
    BEGIN
      SELECT code INTO gcode FROM grid WHERE id = gid;
      IF gcode IS NULL THEN
        RETURN;  -- the grid itself was deleted; its workers went with it
      END IF;
      SELECT count(*) FILTER (WHERE post = 'A'), count(*) FILTER (WHERE post = 'B')
        INTO n_a, n_b FROM grid_worker WHERE grid_id = gid;
      IF n_a <> 1 OR n_b <> 1 THEN
        RAISE EXCEPTION '网格 % 必须恰有一名A岗和一名B岗网格员（现有A岗%名、B岗%名） / grid % must have exactly one A and one B grid worker',
            gcode, n_a, n_b, gcode
          USING ERRCODE = 'check_violation', CONSTRAINT = 'grid_worker_pair';
      END IF;
    END $$
    """,
    """
    CREATE FUNCTION cc_grid_pair_on_grid() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM cc_check_grid_pair(NEW.id);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION cc_grid_pair_on_worker() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM cc_check_grid_pair(OLD.grid_id);
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM cc_check_grid_pair(NEW.grid_id);
      END IF;
      RETURN NULL;
    END $$
    """,
    """CREATE CONSTRAINT TRIGGER grid_pair AFTER INSERT ON grid
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cc_grid_pair_on_grid()""",
    """CREATE CONSTRAINT TRIGGER grid_worker_pair AFTER INSERT OR UPDATE OR DELETE ON grid_worker
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cc_grid_pair_on_worker()""",
    # KNN in metres: `geom::geography <-> point::geography` is index-assisted with this index.
    "CREATE INDEX camera_geog_idx ON camera USING gist ((geom::geography))",
    "CREATE INDEX event_geog_idx ON event USING gist ((geom::geography))",
]

RULES_DOWN: list[str] = [
    "DROP INDEX IF EXISTS event_geog_idx",
    "DROP INDEX IF EXISTS camera_geog_idx",
    "DROP TRIGGER IF EXISTS grid_worker_pair ON grid_worker",
    "DROP TRIGGER IF EXISTS grid_pair ON grid",
    "DROP FUNCTION IF EXISTS cc_grid_pair_on_worker()",
    "DROP FUNCTION IF EXISTS cc_grid_pair_on_grid()",
    "DROP FUNCTION IF EXISTS cc_check_grid_pair(integer)",
    *(f"DROP TRIGGER IF EXISTS {t}_inside_district ON {t}" for t in INSIDE_TABLES),
    "DROP FUNCTION IF EXISTS cc_inside_district()",
    "DROP TRIGGER IF EXISTS district_parts ON district",
    "DROP FUNCTION IF EXISTS cc_district_parts()",
    "DROP TRIGGER IF EXISTS district_fill ON district",
    "DROP FUNCTION IF EXISTS cc_district_fill()",
]


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_table('district',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('check_geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('tolerance_m', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('adcode')
    )
    op.create_geospatial_index('idx_district_check_geom', 'district', ['check_geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_district_geom', 'district', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('street',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_street_geom', 'street', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('community',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['street_id'], ['street.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_community_geom', 'community', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_community_street_id'), 'community', ['street_id'], unique=False)
    op.create_table('event_category',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.Column('deadline_hours', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.CheckConstraint('households >= 0', name='grid_households_nonneg'),
    sa.CheckConstraint('population >= 0', name='grid_population_nonneg'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_grid_geom', 'grid', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_grid_community_id'), 'grid', ['community_id'], unique=False)
    op.create_geospatial_table('courtyard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('buildings', sa.Integer(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('built_year', sa.Integer(), nullable=True),
    sa.Column('renovation_status', sa.Enum('not_started', 'planned', 'in_progress', 'completed', name='renovation_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('renovation_batch', sa.Integer(), nullable=True),
    sa.Column('renovation_completed_on', sa.Date(), nullable=True),
    sa.Column('survey_summary', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint('buildings >= 0 AND households >= 0', name='courtyard_counts_nonneg'),
    sa.CheckConstraint('built_year IS NULL OR built_year BETWEEN 1900 AND 2100', name='courtyard_built_year_range'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_courtyard_geom', 'courtyard', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_courtyard_grid_id'), 'courtyard', ['grid_id'], unique=False)
    op.create_geospatial_table('event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=48), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('source_channel', sa.Enum('grid_patrol', 'hotline_12345', 'online_petition', 'leaders_hotline', 'email', 'video', name='event_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('priority', sa.Enum('normal', 'urgent', 'critical', name='event_priority', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status', sa.Enum('reported', 'accepted', 'dispatched', 'handling', 'handled', 'verified', 'closed', 'rejected', 'returned', name='event_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('closed_at IS NULL OR closed_at >= reported_at', name='event_closed_after_report'),
    sa.CheckConstraint('deadline_at IS NULL OR accepted_at IS NULL OR deadline_at > accepted_at', name='event_deadline_after_accept'),
    sa.ForeignKeyConstraint(['category_code'], ['event_category.code'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('event_reported_at_idx', 'event', ['reported_at'], unique=False)
    op.create_index('event_status_idx', 'event', ['status'], unique=False)
    op.create_geospatial_index('idx_event_geom', 'event', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_event_category_code'), 'event', ['category_code'], unique=False)
    op.create_index(op.f('ix_event_department_id'), 'event', ['department_id'], unique=False)
    op.create_index(op.f('ix_event_grid_id'), 'event', ['grid_id'], unique=False)
    op.create_table('grid_worker',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('post', sa.Enum('A', 'B', name='worker_post', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('grid_id', 'post', name='grid_worker_one_per_post')
    )
    op.create_geospatial_table('camera',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=48), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Enum('skynet', 'community', 'courtyard', name='camera_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('vendor', sa.Enum('hikvision', 'dahua', 'generic', name='camera_vendor', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('azimuth_deg', sa.Double(), nullable=False),
    sa.Column('fov_deg', sa.Double(), nullable=False),
    sa.Column('range_m', sa.Double(), nullable=False),
    sa.Column('main_url', sa.Text(), nullable=True),
    sa.Column('sub_url', sa.Text(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('courtyard_id', sa.Integer(), nullable=True),
    sa.Column('health_status', sa.Enum('unknown', 'online', 'stale', 'offline', 'unauthorized', name='camera_health', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('health_fps', sa.Double(), nullable=True),
    sa.Column('health_reconnects', sa.Integer(), nullable=False),
    sa.Column('health_last_error', sa.String(length=500), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('health_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('azimuth_deg >= 0 AND azimuth_deg < 360', name='camera_azimuth'),
    sa.CheckConstraint('fov_deg > 0 AND fov_deg <= 360', name='camera_fov'),
    sa.CheckConstraint('range_m > 0 AND range_m <= 2000', name='camera_range'),
    sa.ForeignKeyConstraint(['courtyard_id'], ['courtyard.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_camera_geom', 'camera', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_camera_grid_id'), 'camera', ['grid_id'], unique=False)
    op.create_table('event_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_event_log_event_id'), 'event_log', ['event_id'], unique=False)
    op.create_table('survey_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('courtyard_id', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['courtyard_id'], ['courtyard.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_survey_response_courtyard_id'), 'survey_response', ['courtyard_id'], unique=False)
    op.create_geospatial_table('district_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_district_part_geom', 'district_part', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    # ### end Alembic commands ###
    for statement in RULES_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in RULES_DOWN:
        op.execute(statement)
    op.drop_geospatial_index('idx_district_part_geom', table_name='district_part', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('district_part')
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f('ix_survey_response_courtyard_id'), table_name='survey_response')
    op.drop_table('survey_response')
    op.drop_index(op.f('ix_event_log_event_id'), table_name='event_log')
    op.drop_table('event_log')
    op.drop_index(op.f('ix_camera_grid_id'), table_name='camera')
    op.drop_geospatial_index('idx_camera_geom', table_name='camera', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('camera')
    op.drop_table('grid_worker')
    op.drop_index(op.f('ix_event_grid_id'), table_name='event')
    op.drop_index(op.f('ix_event_department_id'), table_name='event')
    op.drop_index(op.f('ix_event_category_code'), table_name='event')
    op.drop_geospatial_index('idx_event_geom', table_name='event', postgresql_using='gist', column_name='geom')
    op.drop_index('event_status_idx', table_name='event')
    op.drop_index('event_reported_at_idx', table_name='event')
    op.drop_geospatial_table('event')
    op.drop_index(op.f('ix_courtyard_grid_id'), table_name='courtyard')
    op.drop_geospatial_index('idx_courtyard_geom', table_name='courtyard', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('courtyard')
    op.drop_index(op.f('ix_grid_community_id'), table_name='grid')
    op.drop_geospatial_index('idx_grid_geom', table_name='grid', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('grid')
    op.drop_table('event_category')
    op.drop_index(op.f('ix_community_street_id'), table_name='community')
    op.drop_geospatial_index('idx_community_geom', table_name='community', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('community')
    op.drop_geospatial_index('idx_street_geom', table_name='street', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('street')
    op.drop_geospatial_index('idx_district_geom', table_name='district', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_index('idx_district_check_geom', table_name='district', postgresql_using='gist', column_name='check_geom')
    op.drop_geospatial_table('district')
    op.drop_table('department')
    # ### end Alembic commands ###
