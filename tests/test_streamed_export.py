"""The CSV export leaves the server as it is made (chunked), not built whole in memory first."""

from __future__ import annotations

import asyncio
import csv
import http.client
import io
import threading
from urllib.parse import urlparse

from modelport.web.server import STREAM_CHUNK, WholeRequests


def test_the_csv_export_is_sent_chunked_through_modelport_serve(live_server):
    address = urlparse(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("GET", "/api/v1/predictions.csv")
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert next(csv.reader(io.StringIO(body)))[0] == "id"


def test_a_sized_answer_keeps_its_length(live_server):
    address = urlparse(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.getheader("Content-Length") == str(len(body))


def test_the_front_sends_a_streamed_body_while_the_app_is_still_making_it():
    """A WSGI app that makes its second chunk only once the first has gone to the client:
    a front that collected the whole body first would never send anything."""
    first_sent = threading.Event()
    produced: list[str] = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])

        def rows():
            produced.append("first")
            yield b"a" * STREAM_CHUNK
            produced.append("waiting" if first_sent.wait(10) else "never sent")
            yield b"b" * 10

        return rows()

    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)
        if message.get("more_body"):
            first_sent.set()

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/predictions.csv",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
    }
    front = WholeRequests(app, threads=2, max_body=1024)
    # A loop of its own in a thread of its own: the browser tests' driver may hold this one.
    runner = threading.Thread(target=asyncio.run, args=(front(scope, receive, send),))
    runner.start()
    runner.join(30)
    assert produced == ["first", "waiting"]
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert bodies[0]["more_body"] and len(bodies[0]["body"]) == STREAM_CHUNK
    assert b"".join(m["body"] for m in bodies) == b"a" * STREAM_CHUNK + b"b" * 10
