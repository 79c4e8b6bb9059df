"""Sample data for the five layers: deterministic, at CDD's published sizes, at real places.

No open copy of CDD's own layers exists, so cddgis generates sample rows — marked ``sample``
everywhere they are shown — and loads them through the same import path as real data. Points sit
at real village locations (``points/th_villages_2012.csv``) when that file is present, and at
random points inside real subdistricts otherwise. Names of people are invented.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import geothai
from sqlalchemy import Engine, text

from gis.layer_store import layer_count
from gis.regions import CDD_REGIONS, cdd_region
from layers.definitions import LAYERS, OTOP_PRODUCT_TYPES
from layers.importer import ImportReport, import_file
from layers.schema import Layer

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


def _villages(data_dir: Path) -> dict[str, list[Place]] | None:
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


def _subdistrict_points(engine: Engine, seed: int) -> dict[str, list[Place]]:
    """One random point inside each real subdistrict, for machines without the village file."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT code, ST_X(p), ST_Y(p) FROM (
                SELECT code, (ST_Dump(ST_GeneratePoints(geom, 3, :seed))).geom AS p
                FROM subdistricts) s
            ORDER BY code
        """), {"seed": seed}).all()
    by_province: dict[str, list[Place]] = defaultdict(list)
    for code, lon, lat in rows:
        by_province[code[:2]].append(Place(None, code, lon, lat))
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


def _row(layer: Layer, values: dict[str, object], lon: float, lat: float,
         subdistrict: str) -> list[object]:
    return [values.get(f.name, "") for f in layer.fields] + [lat, lon, subdistrict]


def generate(layer_id: str, places: dict[str, list[Place]], seed: int) -> list[list[object]]:
    """The rows of one sample layer, with coordinates, deterministic for a seed."""
    rng = random.Random(f"{seed}:{layer_id}")
    layer = LAYERS[layer_id]
    weights = {p: len(v) for p, v in places.items() if v}
    rows: list[list[object]] = []
    if layer_id == "khok-nong-na":
        counts = _spread(22_791, {p: w for p, w in weights.items() if p not in NO_PLOTS})
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
    elif layer_id == "learning-centers":
        counts = _spread(1_885, weights)
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
    elif layer_id == "volunteer-centers":
        for zone_index, province in enumerate(sorted(p for p in weights if p != "10")):
            capital = [pl for pl in places[province] if pl.subdistrict_code[2:4] == "01"]
            place = rng.choice(capital or places[province])
            p = geothai.province(province)
            region = CDD_REGIONS[cdd_region(province) or "central"]
            values = {"center_id": f"VC-{province}",
                      "name": f"ศูนย์ผู้นำจิตอาสาพัฒนาชุมชนจังหวัด{p.name_th}",
                      "place": _address(place), "chair_name": _person(rng),
                      "chair_phone": _phone(rng), "region_name": region.name_th,
                      "inspection_zone": zone_index * 18 // 76 + 1,
                      "province_group": f"กลุ่มจังหวัดที่ {zone_index * 18 // 76 + 1}"}
            rows.append(_row(layer, values, *_jitter(rng, place, 100), place.subdistrict_code))
    elif layer_id == "otop-tourism-villages":
        counts = _spread(3_680, weights)
        for province, n in sorted(counts.items()):
            for i, place in enumerate(rng.sample(places[province], min(n, len(places[province])))):
                kind = rng.choice(OTOP_PRODUCT_TYPES)
                products = rng.sample(PRODUCTS[kind.value], 2)
                highlights = rng.sample(HIGHLIGHTS, 2)
                name = place.name or f"ชุมชนท่องเที่ยว {province}-{i + 1}"
                values = {"village_id": f"OTOP-{province}-{i + 1:04d}", "village_name": name,
                          "highlights_th": f"{highlights[0]} {highlights[1]} และ{products[0]}",
                          "highlights_en": (f"{HIGHLIGHTS_EN[highlights[0]].capitalize()}, "
                                            f"{HIGHLIGHTS_EN[highlights[1]]} and local "
                                            f"{kind.label_en.lower()}"),
                          "products": ", ".join(products), "product_type": kind.label_th,
                          "contact": f"สำนักงานพัฒนาชุมชน{_address(place).split(' จ.')[0]}"}
                rows.append(_row(layer, values, *_jitter(rng, place, 50), place.subdistrict_code))
    elif layer_id == "plant-genetics-trees":
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


def write_csv(layer_id: str, rows: list[list[object]], folder: Path) -> Path:
    path = folder / f"sample-{layer_id}.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(_headers(LAYERS[layer_id]))
        out.writerows(rows)
    return path


def load_samples(engine: Engine, data_dir: Path, *, only_if_empty: bool = False,
                 seed: int = 2564, layers: list[str] | None = None) -> list[ImportReport]:
    """Generates each layer's sample and imports it (as sample) through the normal importer."""
    places = _villages(data_dir) or _subdistrict_points(engine, seed)
    reports = []
    with tempfile.TemporaryDirectory(prefix="cddgis-sample-") as tmp:
        for layer_id in layers or list(LAYERS):
            if only_if_empty and layer_count(engine, layer_id) > 0:
                continue
            path = write_csv(layer_id, generate(layer_id, places, seed), Path(tmp))
            reports.append(import_file(engine, LAYERS[layer_id], path, sample=True,
                                       valid_only=True))
    return reports
