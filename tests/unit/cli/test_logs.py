from __future__ import annotations

import json
import logging

from lanai.cli.logs import JsonFormatter


def test_json_lines_carry_level_logger_message_and_the_object() -> None:
    record = logging.LogRecord("kopf.objects", logging.WARNING, __file__, 1, "hi %s", ("x",), None)
    record.namespace = "team-a"
    record.name = "kopf.objects"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning"
    assert entry["message"] == "hi x"
    assert entry["namespace"] == "team-a"
    assert entry["time"].endswith("+00:00")
