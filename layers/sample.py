"""Sample data for the five layers: deterministic, at CDD's published sizes, at real places.

No open copy of CDD's own layers exists, so cddgis generates sample rows — marked ``sample``
everywhere they are shown — and loads them through the same import path as real data
(``gis.layer_store.load_samples``). Points sit at real village locations
(``points/th_villages_2012.csv``) when that file is present, and at random points inside real
subdistricts otherwise. Names of people are invented.

A layer's declaration says how its sample is made (``Layer.sample``): a recipe below for the five
CDD layers, and for any other layer ``spread``, which fills every field from its type, allowed
values and range, so a new layer needs no code here.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geothai

from core.areas import CDD_REGIONS, cdd_region
from core.schema import Choice, Field, Layer

# Provinces without Khok Nong Na plots in the sample: CDD reports plots in 73 of 77 provinces
# without naming the four; we leave out the most urban ones.
NO_PLOTS = {"10", "11", "12", "74"}

FIRST_NAMES = ["สมชาย", "สมหญิง", "บุญมี", "ประเสริฐ", "มาลี", "สุดา", "วิชัย", "อำนวย", "จันทร์เพ็ญ",
               "ทองใบ", "สมพร", "บัวผัน", "ประยูร", "คำปุน", "นิตยา", "สายสุนีย์", "เกษม", "ดวงใจ"]
LAST_NAMES = ["ใจดี", "รักษ์ไทย", "ศรีสุข", "บุญมา", "แก้วมณี", "ทองดี", "มั่นคง", "สุขเจริญ",
              "พรหมมา", "วงศ์ใหญ่", "คำแสน", "ปัญญาดี", "ชัยมงคล", "อินทร์แก้ว"]
PRODUCTS = {
    "food": ["ข้าวหอมมะลิ", "น้ำพริกเผา", "กล้วยตาก", "ขนมไทย", "ปลาร้าบอง", "มะขามแช่อิ่ม"],
    "beverage": ["น้ำผึ้งป่า", "ชาสมุนไพร", "กาแฟอาราบิก้า", "น้ำตาลโตนด", "ไวน์ผลไม้"],
    "textile": ["ผ้าไหมมัดหมี่", "ผ้าฝ้ายทอมือ", "ผ้าย้อมคราม", "ผ้าขาวม้า", "ผ้าบาติก"],
    "decor": ["เครื่องจักสานไม้ไผ่", "เครื่องปั้นดินเผา", "ไม้แกะสลัก", "ร่มกระดาษสา", "ตุ๊กตาชาววัง"],
    "herbal": ["ยาหม่องสมุนไพร", "สบู่สมุนไพร", "ลูกประคบ", "น้ำมันเหลือง", "แชมพูมะกรูด"],
}
HIGHLIGHTS = ["วิถีชีวิตริมน้ำ", "ตลาดชุมชนยามเช้า", "ประเพณีท้องถิ่น", "ทุ่งนาและภูเขา", "วัดเก่าแก่",
              "ฐานการเรียนรู้ภูมิปัญญา", "โฮมสเตย์", "อาหารพื้นบ้าน"]
HIGHLIGHTS_EN = {"วิถีชีวิตริมน้ำ": "riverside life", "ตลาดชุมชนยามเช้า": "a morning market",
                 "ประเพณีท้องถิ่น": "local festivals", "ทุ่งนาและภูเขา": "rice fields and hills",
                 "วัดเก่าแก่": "an old temple", "ฐานการเรียนรู้ภูมิปัญญา": "craft workshops",
                 "โฮมสเตย์": "homestays", "อาหารพื้นบ้าน": "local food"}
TREES = [("ยางนา", "Dipterocarpus alatus"), ("ตะเคียนทอง", "Hopea odorata"),
         ("มะค่าโมง", "Afzelia xylocarpa"), ("ประดู่ป่า", "Pterocarpus macrocarpus"),
         ("พะยูง", "Dalbergia cochinchinensis"), ("สัก", "Tectona grandis"),
         ("ราชพฤกษ์", "Cassia fistula"), ("มะขาม", "Tamarindus indica"),
         ("สะเดา", "Azadirachta indica"), ("มะม่วง", "Mangifera indica"),
         ("ขนุน", "Artocarpus heterophyllus"), ("จามจุรี", "Samanea saman")]
# CDD's 13 recording centres: 11 community development study centres, Khao Hin Son and Saraphi.
# Their provinces are given for placing sample trees; the sample does not claim exact sites.
CENTRES = [("ศูนย์ศึกษาและพัฒนาชุมชนลำปาง", "52"), ("ศูนย์ศึกษาและพัฒนาชุมชนพิษณุโลก", "65"),
           ("ศูนย์ศึกษาและพัฒนาชุมชนนครราชสีมา", "30"), ("ศูนย์ศึกษาและพัฒนาชุมชนขอนแก่น", "40"),
           ("ศูนย์ศึกษาและพัฒนาชุมชนมหาสารคาม", "44"), ("ศูนย์ศึกษาและพัฒนาชุมชนอุบลราชธานี", "34"),
           ("ศูนย์ศึกษาและพัฒนาชุมชนชลบุรี", "20"), ("ศูนย์ศึกษาและพัฒนาชุมชนลพบุรี", "16"),
           ("ศูนย์ศึกษาและพัฒนาชุมชนเพชรบุรี", "76"),
           ("ศูนย์ศึกษาและพัฒนาชุมชนนครศรีธรรมราช", "80"), ("ศูนย์ศึกษาและพัฒนาชุมชนยะลา", "95"),
           ("ศูนย์ศึกษาการพัฒนาเขาหินซ้อน", "24"), ("ศูนย์เรียนรู้ทุนชุมชนสารภี", "50")]
TREES_PER_CENTRE = 40


@dataclass(frozen=True)
class Place:
    name: str | None  # village name, when placed at a village
    subdistrict_code: str
    lon: float
    lat: float


def village_places(data_dir: Path) -> dict[str, list[Place]] | None:
    """Real village points by province, or None without the village file."""
    path = data_dir / "points" / "th_villages_2012.csv"
    if not path.exists():
        return None
    by_province: dict[str, list[Place]] = defaultdict(list)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            code = (row.get("subdistrict_code") or "").strip()
            if len(code) != 6:
                continue  # outside every subdistrict: not a place to put a sample point
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except (KeyError, ValueError):
                continue
            by_province[code[:2]].append(Place(row.get("name_th") or None, code, lon, lat))
    return by_province


def _spread(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Splits ``total`` over provinces in proportion to ``weights`` (largest remainder)."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(v) for k, v in shares.items()}
    for k in sorted(shares, key=lambda k: (shares[k] - counts[k], k), reverse=True)[
            : total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _jitter(rng: random.Random, place: Place, metres: float) -> tuple[float, float]:
    dx = rng.uniform(-metres, metres) / 108_000
    dy = rng.uniform(-metres, metres) / 110_600
    return round(place.lon + dx, 6), round(place.lat + dy, 6)


def _address(place: Place) -> str:
    a = geothai.address(place.subdistrict_code)
    if a is None:
        return ""
    return f"ต.{a.subdistrict.name_th} อ.{a.district.name_th} จ.{a.province.name_th}"


def _person(rng: random.Random) -> str:
    title = rng.choice(["นาย", "นาง", "นางสาว"])
    return f"{title}{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _phone(rng: random.Random) -> str:
    prefix = f"0{rng.choice([6, 8, 9])}{rng.randint(0, 9)}"
    return f"{prefix}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _headers(layer: Layer) -> list[str]:
    # Thai headers, as CDD's spreadsheets have them.
    return [f.label_th for f in layer.fields] + ["ละติจูด", "ลองจิจูด", "รหัสตำบล"]


def _row(layer: Layer, values: Mapping[str, object], lon: float, lat: float,
         subdistrict: str) -> list[object]:
    return [values.get(f.name, "") for f in layer.fields] + [lat, lon, subdistrict]


Places = Mapping[str, Sequence[Place]]
"""Candidate places by province code."""


def _weights(places: Places) -> dict[str, int]:
    return {p: len(v) for p, v in places.items() if v}


def khok_nong_na(layer: Layer, places: Places, rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    weights = _weights(places)
    counts = _spread(layer.sample.count or 22_791,
                     {p: w for p, w in weights.items() if p not in NO_PLOTS})
    for province, n in sorted(counts.items()):
        for i in range(n):
            place = rng.choice(places[province])
            level = "CLM" if rng.random() < 0.04 else "HLM"
            size = rng.choice([15, 10, 8]) if level == "CLM" else rng.choice([1, 1, 3, 3, 3, 5])
            title = rng.choices(["โฉนด", "น.ส.3 ก", "น.ส.3", "ส.ป.ก. 4-01", "อื่น ๆ"],
                                [45, 15, 5, 30, 5])[0]
            values = {"plot_id": f"KNN-{province}-{i + 1:05d}",
                      "village_no": rng.randint(1, 20), "village_name": place.name or "",
                      "plot_size_rai": size, "owner_name": _person(rng), "model_level": level,
                      "land_title": title, "budget_year": 2564,
                      "funding_source": "เงินกู้ตาม พ.ร.ก. กู้เงินฯ พ.ศ. 2563"}
            rows.append(_row(layer, values, *_jitter(rng, place, 250), place.subdistrict_code))
    return rows


def learning_centers(layer: Layer, places: Places, rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    counts = _spread(layer.sample.count or 1_885, _weights(places))
    for province, n in sorted(counts.items()):
        for i in range(n):
            place = rng.choice(places[province])
            village = place.name or f"ชุมชน {i + 1}"
            values = {"center_id": f"LC-{province}-{i + 1:04d}",
                      "name": f"ศูนย์เรียนรู้ฯ {village}", "place": _address(place),
                      "budget_year": rng.randint(2559, 2564),
                      "ready": "พร้อม" if rng.random() < 0.85 else "ไม่พร้อม",
                      "phone": _phone(rng)}
            rows.append(_row(layer, values, *_jitter(rng, place, 100), place.subdistrict_code))
    return rows


def volunteer_centers(layer: Layer, places: Places, rng: random.Random) -> list[list[object]]:
    """One centre per province outside Bangkok, in the provincial capital district."""
    rows: list[list[object]] = []
    for zone_index, province in enumerate(sorted(p for p in _weights(places) if p != "10")):
        capital = [pl for pl in places[province] if pl.subdistrict_code[2:4] == "01"]
        place = rng.choice(capital or places[province])
        p = geothai.province(province)
        assert p is not None, province  # places are keyed by real province codes
        region = CDD_REGIONS[cdd_region(province) or "central"]
        values = {"center_id": f"VC-{province}",
                  "name": f"ศูนย์ผู้นำจิตอาสาพัฒนาชุมชนจังหวัด{p.name_th}",
                  "place": _address(place), "chair_name": _person(rng),
                  "chair_phone": _phone(rng), "region_name": region.name_th,
                  "inspection_zone": zone_index * 18 // 76 + 1,
                  "province_group": f"กลุ่มจังหวัดที่ {zone_index * 18 // 76 + 1}"}
        rows.append(_row(layer, values, *_jitter(rng, place, 100), place.subdistrict_code))
    return rows


def otop_tourism_villages(layer: Layer, places: Places, rng: random.Random,
                          ) -> list[list[object]]:
    rows: list[list[object]] = []
    kinds = layer.field("product_type").choices
    counts = _spread(layer.sample.count or 3_680, _weights(places))
    for province, n in sorted(counts.items()):
        for i, place in enumerate(rng.sample(places[province], min(n, len(places[province])))):
            kind = rng.choice(kinds)
            products = rng.sample(PRODUCTS[kind.value], 2)
            highlights = rng.sample(HIGHLIGHTS, 2)
            name = place.name or f"ชุมชนท่องเที่ยว {province}-{i + 1}"
            values = {"village_id": f"OTOP-{province}-{i + 1:04d}", "village_name": name,
                      "highlights_th": f"{highlights[0]} {highlights[1]} และ{products[0]}",
                      "highlights_en": (f"{HIGHLIGHTS_EN[highlights[0]].capitalize()}, "
                                        f"{HIGHLIGHTS_EN[highlights[1]]} and local "
                                        f"{kind.label_en.lower()}"),
                      "products": ", ".join(products), "product_type": kind.label_th,
                      "contact": f"สำนักงานพัฒนาชุมชน{_address(place).split(' จ.')[0]}",
                      **_sample_contacts(f"OTOP-{province}-{i + 1:04d}")}
            rows.append(_row(layer, values, *_jitter(rng, place, 50), place.subdistrict_code))
    return rows


SAMPLE_OPENING_DAYS = ("ทุกวัน 08:30-17:00", "จ.-ศ. 08:30-16:30", "ส. อา. 09:00-17:00",
                       "อ.-อา. 09:00-18:00")


def _sample_contacts(key: str) -> dict[str, str]:
    """A phone, LINE ID and opening days for about a third of the sample villages, visibly
    sample (the 02-000 numbers are not in use; the LINE IDs say "sample"). Drawn from the key,
    not from the generator's random stream, so the rest of the sample stays as it was."""
    own = random.Random(key)
    if own.random() > 0.35:
        return {}
    return {"phone": f"02-000-{own.randint(0, 9999):04d}",
            "line_id": "sample." + key.lower(),
            "opening_days": own.choice(SAMPLE_OPENING_DAYS)}


def plant_genetics_trees(layer: Layer, places: Places, rng: random.Random,
                         ) -> list[list[object]]:
    rows: list[list[object]] = []
    for c, (centre, province) in enumerate(CENTRES):
        capital = [pl for pl in places.get(province, []) if pl.subdistrict_code[2:4] == "01"]
        site = rng.choice(capital or places[province])
        for i in range(TREES_PER_CENTRE):
            thai, scientific = rng.choice(TREES)
            values = {"tree_id": f"RSPG-{c + 1:02d}-{i + 1:03d}", "species_th": thai,
                      "species_scientific": scientific, "centre": centre,
                      "girth_cm": round(rng.uniform(30, 400), 1),
                      "height_m": round(rng.uniform(3, 35), 1),
                      "recorded_on": f"{rng.randint(2562, 2564)}-{rng.randint(1, 12):02d}-"
                                     f"{rng.randint(1, 28):02d}"}
            rows.append(_row(layer, values, *_jitter(rng, site, 300), site.subdistrict_code))
    return rows


DEFAULT_SAMPLE_COUNT = 200


def _key_prefix(layer: Layer) -> str:
    return "".join(part[0] for part in layer.id.split("-")).upper()


def _value(layer: Layer, f: Field, rng: random.Random, place: Place, n: int,
           key: str) -> object:
    """A plausible value for one field, from its declaration alone."""
    if f.name == layer.key_field:
        return key
    if f.choices:
        choice: Choice = rng.choice(f.choices)
        return choice.value
    low = f.minimum if f.minimum is not None else 1
    high = f.maximum if f.maximum is not None else max(low, 100)
    if f.type == "int":
        return rng.randint(int(low), int(high))
    if f.type == "float":
        return round(rng.uniform(low, high), 1)
    if f.type == "year_be":
        return rng.randint(2560, 2567)
    if f.type == "bool":
        return "ใช่" if rng.random() < 0.8 else "ไม่ใช่"
    if f.type == "date":
        return f"{rng.randint(2562, 2567)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if f.type == "phone":
        return "" if f.personal else _phone(rng)
    if f.personal:
        return _person(rng)
    if f.name == layer.name_field:
        return f"{layer.title_th} {place.name or ''} {n}".replace("  ", " ").strip()
    return ""  # text and url: nothing invented


def spread(layer: Layer, places: Places, rng: random.Random) -> list[list[object]]:
    """Any layer's sample from its declaration: ``sample.count`` (or the published count) rows
    spread over the provinces by their number of villages, every field filled by its type."""
    rows: list[list[object]] = []
    total = layer.sample.count or layer.published_count or DEFAULT_SAMPLE_COUNT
    prefix = _key_prefix(layer)
    for province, n in sorted(_spread(total, _weights(places)).items()):
        for i in range(n):
            place = rng.choice(places[province])
            key = f"{prefix}-{province}-{i + 1:05d}"
            values = {f.name: _value(layer, f, rng, place, i + 1, key) for f in layer.fields}
            rows.append(_row(layer, values, *_jitter(rng, place, layer.sample.jitter_m),
                             place.subdistrict_code))
    return rows


def generate(layer: Layer, places: Places, seed: int) -> list[list[object]]:
    """The rows of one sample layer, with coordinates, deterministic for a seed."""
    rng = random.Random(f"{seed}:{layer.id}")
    recipe = layer.sample.recipe or spread
    return recipe(layer, places, rng)


def write_csv(layer: Layer, rows: list[list[object]], folder: Path) -> Path:
    """The rows as CDD would export them (Thai headers, UTF-8 with BOM), for the importer."""
    path = folder / f"sample-{layer.id}.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(_headers(layer))
        out.writerows(rows)
    return path
