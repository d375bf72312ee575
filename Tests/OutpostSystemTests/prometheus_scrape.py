#!/usr/bin/env python3
"""Scrapes a Prometheus text endpoint with Prometheus' own Python parser (prometheus_client, from PyPI) and prints
what it parsed as JSON: {family: {"type": ..., "samples": [[name, labels, value], ...]}}. Exits non-zero when the
parser refuses the text.

usage: prometheus_scrape.py URL
"""
import json
import math
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
    content_type = response.headers.get("Content-Type", "")
    text = response.read().decode()
families = {}
for family in text_string_to_metric_families(text):
    families[family.name] = {"type": family.type, "documentation": family.documentation,
                             "samples": [[s.name, s.labels, None if math.isnan(s.value) else s.value]
                                         for s in family.samples]}
print(json.dumps({"content_type": content_type, "families": families}))
