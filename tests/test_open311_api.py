"""The Open311 intake API on a real server (loopback, real PostGIS): every endpoint, keys,
bad intakes, JSON-only answers, the SLA's expected_datetime, the scheduled sweep, and a
schemathesis fuzz run against the served OpenAPI description."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa
from helpers import wait_until
from sqlalchemy.orm import Session
from test_intake import LAT, LON, north, seed_grids
from test_loop_support import seed_catalog

from command_center.api.keys import add_client, set_disabled
from command_center.api.server import ApiServices, run_api
from gis.models import Event, EventLog

pytestmark = pytest.mark.db


@dataclass
class Api:
    base: str
    key: str
    engine: sa.Engine
    services: ApiServices

    def url(self, path: str) -> str:
        return f"{self.base}/open311/v2/{path}"

    def post(self, data: dict | None = None, json: dict | None = None, **kw) -> requests.Response:
        return requests.post(self.url("requests.json"), data=data, json=json, timeout=10, **kw)

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.url(path), params={"api_key": self.key, **params}, timeout=10)


def form(key: str, **extra) -> dict:
    return {"api_key": key, "service_code": "sanitation", "lat": str(LAT), "long": str(LON),
            "description": "垃圾桶满溢 bins overflowing"} | extra


@pytest.fixture(scope="module")
def api(engine, settings) -> Iterator[Api]:
    seed_catalog(engine)
    seed_grids(engine)
    with Session(engine) as session:
        key = add_client(session, "test-hotline", "hotline_12345")
        add_client(session, "test-off", "email", "cc_disabled-key")
        set_disabled(session, "test-off", True)
        session.commit()
    # A short sweep interval and no key cache so the tests see changes at once.
    test_settings = settings.model_copy(update={"api": settings.api.model_copy(update={
        "sweep_interval_s": 0.3, "key_cache_s": 0.0})})
    ready: list[ApiServices] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_api, args=(test_settings, engine), kwargs={
        "host": "127.0.0.1", "port": 0, "stop_event": stop, "on_ready": ready.append},
        daemon=True)
    thread.start()
    wait_until(lambda: bool(ready), 20, "the API listens")
    yield Api(ready[0].base_url, key, engine, ready[0])
    stop.set()
    thread.join(20)
    assert not thread.is_alive()


def _error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body[0]["code"] == status and " / " in body[0]["description"]
    return body[0]["description"]


def test_services_in_chinese_with_english_on_request(api):
    r = api.get("services.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    services = {s["service_code"]: s for s in r.json()}
    assert services["sanitation"]["service_name"] == "环境卫生"
    assert "environment & sanitation" in services["sanitation"]["description"]
    assert services["sanitation"]["metadata"] is True
    en = {s["service_code"]: s for s in api.get("services.json", lang="en").json()}
    assert en["sanitation"]["service_name"] == "environment & sanitation"


def test_service_definition_lists_the_attributes(api):
    r = api.get("services/sanitation.json")
    assert r.status_code == 200
    attrs = {a["code"]: a for a in r.json()["attributes"]}
    assert [v["key"] for v in attrs["priority"]["values"]] == ["normal", "urgent", "critical"]
    assert "no such service" in _error(api.get("services/ufo.json"), 404)


def test_post_form_creates_a_reported_event_with_grid_log_and_sla(api):
    r = api.post(form(api.key, address_string="人民路 1 号", first_name="三", last_name="张",
                      phone="13800000000", **{"attribute[priority]": "urgent",
                                              "attribute[title]": "东门垃圾"}))
    assert r.status_code == 201, r.text
    (created,) = r.json()
    code = created["service_request_id"]
    assert created["grid"] == "T-01" and created["account_id"] is None
    with Session(api.engine) as session:
        event = session.execute(sa.select(Event).where(Event.code == code)).scalar_one()
        assert (event.status, event.priority, event.source_channel, event.title) == (
            "reported", "urgent", "hotline_12345", "东门垃圾")
        assert (event.reporter_name, event.address) == ("张 三", "人民路 1 号")
        log = session.execute(sa.select(EventLog).where(EventLog.event_id == event.id)
                              ).scalar_one()
        assert (log.action, log.actor, log.to_status) == ("report", "test-hotline", "reported")
        reported = event.reported_at
    # sanitation 24 h × urgent ½, as if accepted at the moment of the report
    expected = dt.datetime.fromisoformat(created["expected_datetime"])
    assert abs((expected - reported).total_seconds() - 12 * 3600) < 1
    (fetched,) = api.get(f"requests/{code}.json").json()
    assert fetched["status"] == "open" and fetched["service_name"] == "环境卫生"
    assert fetched["grid"] == "T-01" and fetched["channel"] == "hotline_12345"
    assert abs(fetched["lat"] - LAT) < 1e-9 and abs(fetched["long"] - LON) < 1e-9
    assert "phone" not in fetched and "13800000000" not in str(fetched)  # never echoed


def test_post_json_body_with_nested_attributes(api):
    r = api.post(json={"api_key": api.key, "service_code": "dispute", "lat": LAT,
                       "long": 105.052, "description": "噪音纠纷",
                       "attribute": {"priority": "critical"}})
    assert r.status_code == 201, r.text
    (created,) = r.json()
    assert created["grid"] == "T-02"
    with Session(api.engine) as session:
        assert session.execute(sa.select(Event.priority).where(
            Event.code == created["service_request_id"])).scalar_one() == "critical"


def test_api_key_missing_wrong_or_disabled_is_refused(api):
    assert "api_key" in _error(api.post(form("")), 403)
    assert "api_key" in _error(api.post(form("cc_wrong")), 403)
    assert "api_key" in _error(api.post(form("cc_disabled-key")), 403)
    r = requests.get(api.url("requests.json"), timeout=10)
    _error(r, 403)


@pytest.mark.parametrize(("extra", "text"), [
    ({"lat": "39.91", "long": "116.39"}, "outside the district"),
    ({"service_code": "ufo"}, "unknown category"),
    ({"lat": "north"}, "lat must be a number"),
    ({"lat": ""}, "lat is required"),
    ({"description": "x" * 2001}, "too long"),
    ({"attribute[colour]": "red"}, "unknown attribute"),
    ({"attribute[priority]": "asap"}, "unknown priority"),
    ({"media_url": "http://u:pw@img.example/1.jpg"}, "password"),
])
def test_bad_intakes_get_400_with_a_clear_bilingual_text(api, extra, text):
    description = _error(api.post(form(api.key, **extra)), 400)
    assert text in description


def test_outside_the_district_says_so_in_chinese_too(api):
    description = _error(api.post(form(api.key, lat="39.91", long="116.39")), 400)
    assert "辖区" in description


def test_a_1_mb_description_is_413_not_a_server_error(api):
    big = "长" * (1024 * 1024 // 3)
    _error(api.post(form(api.key, description=big)), 413)
    _error(api.post(json={"api_key": api.key, "description": "x" * 1_048_576}), 413)
    assert api.get("services.json").status_code == 200  # the server is fine


def test_bad_bodies_are_4xx(api):
    url = api.url("requests.json")
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"},
                      timeout=10)
    _error(r, 400)
    r = requests.post(url, data=b"[1, 2]", headers={"Content-Type": "application/json"},
                      timeout=10)
    _error(r, 400)
    r = requests.post(url, data=b"<x/>", headers={"Content-Type": "application/xml"},
                      timeout=10)
    _error(r, 415)
    _error(requests.put(url, data=b"", timeout=10), 405)
    _error(requests.get(f"{api.base}/nowhere", timeout=10), 404)


def test_script_is_stored_verbatim_and_served_as_json_data(api):
    text = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = api.post(form(api.key, description=text, address_string="<b>bold</b>"))
    assert r.status_code == 201
    code = r.json()[0]["service_request_id"]
    with Session(api.engine) as session:
        assert session.execute(sa.select(Event.description).where(Event.code == code)
                               ).scalar_one() == text
    got = api.get(f"requests/{code}.json")
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.json()[0]["description"] == text
    assert got.json()[0]["address"] == "<b>bold</b>"


def test_duplicates_are_offered_in_the_answer(api):
    first = api.post(form(api.key, service_code="pollution", long="105.0475"))
    second = api.post(form(api.key, service_code="pollution", long="105.0475",
                           lat=str(north(30))))
    far = api.post(form(api.key, service_code="pollution", long="105.0475",
                        lat=str(north(80))))
    first_id = first.json()[0]["service_request_id"]
    dups = second.json()[0]["duplicates"]
    assert [d["service_request_id"] for d in dups] == [first_id]
    assert 29 < dups[0]["distance_m"] < 31 and dups[0]["status"] == "open"
    assert "duplicate" in api.post(form(api.key, service_code="pollution", long="105.0475"),
                                   params={"lang": "en"}).json()[0]["service_notice"]
    assert first_id not in [d["service_request_id"] for d in far.json()[0]["duplicates"]]


def test_search_filters(api):
    a = api.post(form(api.key, service_code="market")).json()[0]["service_request_id"]
    b = api.post(form(api.key, service_code="traffic")).json()[0]["service_request_id"]
    with api.engine.begin() as conn:
        conn.execute(sa.text("UPDATE event SET status = 'rejected', reject_reason = 'invalid' "
                             "WHERE code = :c"), {"c": b})
    assert [r["service_request_id"] for r in api.get(
        "requests.json", service_request_id=f"{a},{b}").json()] == [b, a]
    market = api.get("requests.json", service_code="market").json()
    assert [r["service_request_id"] for r in market] == [a]
    closed = {r["service_request_id"]: r for r in api.get("requests.json", status="closed")
              .json()}
    assert b in closed and a not in closed and "信息无效" in closed[b]["status_notes"]
    assert a in {r["service_request_id"] for r in api.get("requests.json", status="open").json()}
    future = api.get("requests.json", start_date="2100-01-01T00:00:00+08:00").json()
    assert future == []
    _error(api.get("requests.json", status="pending"), 400)
    _error(api.get("requests.json", start_date="yesterday"), 400)
    _error(api.get("requests.json", start_date="2026-02-01T00:00:00Z",
                   end_date="2026-01-01T00:00:00Z"), 400)
    _error(api.get("requests/RQ-nope.json"), 404)
    _error(api.get("requests/%00.json"), 404)


def test_openapi_document_is_served(api):
    doc = api.get("openapi.json").json()
    assert doc["openapi"].startswith("3.0")
    assert set(doc["paths"]) >= {"/services.json", "/services/{code}.json", "/requests.json",
                                 "/requests/{code}.json"}


def test_the_api_process_sweeps_overdue_events_into_supervision(api):
    code = api.post(form(api.key, service_code="infrastructure")).json()[0][
        "service_request_id"]
    with api.engine.begin() as conn:  # accepted long ago, deadline passed an hour ago
        conn.execute(sa.text(
            "UPDATE event SET status = 'accepted', reported_at = now() - interval '3 days', "
            "accepted_at = now() - interval '3 days', deadline_at = now() - interval '1 hour'"
            " WHERE code = :c"), {"c": code})

    def supervised() -> bool:
        with api.engine.connect() as conn:
            return bool(conn.execute(sa.text("SELECT supervised FROM event WHERE code = :c"),
                                     {"c": code}).scalar_one())

    wait_until(supervised, 15, "the sweep supervises the overdue event")
    with api.engine.connect() as conn:
        actor, role = conn.execute(sa.text(
            "SELECT l.actor, l.role FROM event_log l JOIN event e ON e.id = l.event_id "
            "WHERE e.code = :c AND l.action = 'supervise'"), {"c": code}).one()
    assert (actor, role) == ("system", "system")
    assert api.services.sweeper.runs >= 1


@pytest.mark.slow
def test_fuzz_from_the_openapi_description(api):
    """Schemathesis: whatever the description allows, no 5xx and every answer conforms."""
    import hypothesis
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(api.url("openapi.json"))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    failures: list[str] = []
    seen: dict[int, int] = {}
    def fuzz(op) -> None:
        @hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=op.as_strategy())
        def run(case):
            # Half the cases carry the real key, so the deeper paths get fuzzed too.
            if isinstance(case.body, dict) and "api_key" in case.body and len(
                    str(case.body)) % 2:
                case.body["api_key"] = api.key
                if len(str(case.body)) % 3:  # …and a third of those a valid place and category
                    case.body.update(service_code="sanitation", lat=LAT, long=LON)
            if case.query and "api_key" in case.query and len(str(case.query)) % 2:
                case.query["api_key"] = api.key
            response = case.call(base_url=f"{api.base}/open311/v2", timeout=10)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:
                failures.append(f"{op.label}: {exc}"[:800])

        run()

    for operation in schema.get_all_operations():
        fuzz(operation.ok())
    print("statuses seen:", dict(sorted(seen.items())))
    assert not failures, "\n".join(failures[:5])
    assert not any(status >= 500 for status in seen)
    assert any(200 <= status < 300 for status in seen)


def test_cli_keys_add_prints_the_key_once_and_list_never_shows_it(api):
    from typer.testing import CliRunner

    from command_center.cli import app

    url = api.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    env = {"CC_DATABASE_URL": url}
    added = runner.invoke(app, ["api", "keys", "add", "--name", "cli-petition", "--channel",
                                "online_petition"], env=env)
    assert added.exit_code == 0, added.output
    key = added.output.split("keep it safe): ")[1].split()[0]
    assert key.startswith("cc_")
    assert api.post(form(key)).status_code == 201  # the printed key works at once
    listed = runner.invoke(app, ["api", "keys", "list"], env=env)
    assert listed.exit_code == 0 and "cli-petition" in listed.output
    assert key not in listed.output and key[:12] not in listed.output
    bad = runner.invoke(app, ["api", "keys", "add", "--name", "x", "--channel", "fax"], env=env)
    assert bad.exit_code == 1 and "unknown channel" in bad.output
    off = runner.invoke(app, ["api", "keys", "disable", "cli-petition"], env=env)
    assert off.exit_code == 0
    _error(api.post(form(key)), 403)


def test_the_writer_answers_each_report_when_the_database_refuses_one(api):
    """Group commit: a batch the database refuses is retried so the good report still lands."""
    import asyncio

    from command_center.api.writer import IntakeWriter
    from gis.loop.intake import Intake, IntakeInvalid

    writer = IntakeWriter(api.engine, api.services.sla, api.services.limits)

    async def go():
        writer.start()
        # Both queued before the writer wakes: one batch. "no_such" passed no validate().
        results = await asyncio.gather(
            writer.submit(Intake("sanitation", LON, LAT, "email", actor="t")),
            writer.submit(Intake("no_such", LON, LAT, "email", actor="t")),
            return_exceptions=True)
        await writer.stop()
        return results

    good, bad = asyncio.run(go())
    assert good.code.startswith("RQ") and good.grid_code == "T-01"
    assert isinstance(bad, IntakeInvalid) and "database refused" in str(bad)
    assert (writer.stats.batches, writer.stats.largest_batch, writer.stats.written) == (1, 2, 1)


def test_cli_api_serve_answers_and_stops_cleanly_on_sigterm(api):
    import os
    import signal
    import subprocess
    import sys

    from helpers import free_port

    port = free_port()
    env = {**os.environ, "CC_DATABASE_URL": api.engine.url.render_as_string(
        hide_password=False), "CC_API__PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "command_center.cli", "api", "serve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        def up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/open311/v2/health",
                                    timeout=2).json()["ok"]
            except requests.RequestException:
                return False

        wait_until(up, 30, "api serve answers")
        r = requests.post(f"http://127.0.0.1:{port}/open311/v2/requests.json",
                          data=form(api.key), timeout=10)
        assert r.status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "intake API at" in out and "supervision sweep every 120 s" in out


def test_the_sweeper_runs_once_at_start_not_one_interval_later(api):
    from command_center.api.writer import Sweeper
    from gis.loop.sla import DEFAULT_RULE

    # The module's own sweeper (every 0.3 s) must not do it for us: stopped first. This is the
    # module's last test, so nothing after it needs that sweeper.
    api.services.sweeper.stop()
    # an event that went overdue while no API process ran
    code = api.post(form(api.key, service_code="dispute")).json()[0]["service_request_id"]
    with api.engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE event SET status = 'accepted', accepted_at = now() - interval '3 days', "
            "deadline_at = now() - interval '1 hour', supervised = false WHERE code = :c"),
            {"c": code})
    sweeper = Sweeper(api.engine, DEFAULT_RULE, interval_s=3600)
    sweeper.start()
    try:
        wait_until(lambda: sweeper.runs >= 1, 10, "the first sweep right at start")
    finally:
        sweeper.stop()
    assert sweeper.last is not None
    with api.engine.connect() as conn:
        event_id, supervised = conn.execute(sa.text(
            "SELECT id, supervised FROM event WHERE code = :c"), {"c": code}).one()
    assert supervised and event_id in sweeper.last.supervised
