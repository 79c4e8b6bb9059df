"""The five CDD point layers, each declared once."""

from __future__ import annotations

from core.schema import Choice, Field, Layer, SampleSpec
from layers import sample

_PLACE = Field("place", "text", "สถานที่ตั้ง", "Place", headers=("ที่ตั้ง", "address", "location"))
_PHONE = Field("phone", "phone", "โทรศัพท์", "Phone",
               headers=("เบอร์โทร", "เบอร์โทรศัพท์", "tel", "telephone"))

KHOK_NONG_NA = Layer(
    id="khok-nong-na",
    title_th="แปลงโคก หนอง นา โมเดล",
    title_en="Khok Nong Na model plots",
    description_th="แปลงต้นแบบเกษตรทฤษฎีใหม่ตามหลักปรัชญาของเศรษฐกิจพอเพียง",
    key_field="plot_id",
    name_field="plot_id",
    fields=(
        Field("plot_id", "text", "รหัสแปลง", "Plot ID", required=True,
              headers=("รหัส", "id", "plot code"), max_length=40),
        Field("village_no", "int", "หมู่ที่", "Village no.", minimum=1, maximum=99,
              headers=("หมู่", "moo", "village number")),
        Field("village_name", "text", "ชื่อหมู่บ้าน", "Village", headers=("หมู่บ้าน", "บ้าน")),
        Field("plot_size_rai", "float", "ขนาดแปลง (ไร่)", "Plot size (rai)", required=True,
              minimum=0.1, maximum=500, filter="range",
              headers=("ขนาดพื้นที่ (ไร่)", "พื้นที่ (ไร่)", "ไร่", "rai", "size")),
        Field("owner_name", "text", "ชื่อเจ้าของแปลง", "Owner name", personal=True,
              headers=("เจ้าของแปลง", "ชื่อ-สกุล", "ชื่อ สกุล", "owner")),
        Field("model_level", "enum", "ระดับโมเดล", "Model level", required=True, filter="choice",
              headers=("ระดับ", "model", "level"),
              choices=(
                  Choice("HLM", "ระดับครัวเรือน (HLM)", "Household Lab Model",
                         ("ครัวเรือน", "household", "household lab model")),
                  Choice("CLM", "ระดับชุมชน (CLM)", "Community Lab Model",
                         ("ชุมชน", "community", "community lab model")),
              )),
        Field("land_title", "enum", "เอกสารสิทธิ์", "Land title", filter="choice",
              headers=("ประเภทเอกสารสิทธิ์", "เอกสารสิทธิ์ที่ดิน", "title deed", "land title type"),
              choices=(
                  Choice("chanot", "โฉนด", "Title deed (Chanot)", ("น.ส.4", "นส4", "chanote")),
                  Choice("ns3", "น.ส.3", "NS-3", ("นส3",)),
                  Choice("ns3k", "น.ส.3 ก", "NS-3 Kor", ("นส3ก", "น.ส.3ก.", "ns3k", "ns-3k")),
                  Choice("spk401", "ส.ป.ก. 4-01", "Sor Por Kor 4-01",
                         ("สปก", "สปก401", "ส.ป.ก.", "spk", "alro")),
                  Choice("other", "อื่น ๆ", "Other", ("อื่นๆ", "อื่น")),
              )),
        Field("budget_year", "year_be", "ปีงบประมาณ (พ.ศ.)", "Budget year (B.E.)", required=True,
              filter="choice", headers=("ปีงบประมาณ", "ปีงบ", "ปี", "fiscal year", "year")),
        Field("funding_source", "text", "แหล่งงบประมาณ", "Funding source",
              headers=("แหล่งเงิน", "งบประมาณ", "funding")),
    ),
    popup_fields=("plot_id", "village_no", "village_name", "plot_size_rai", "model_level",
                  "land_title", "budget_year", "funding_source"),
    color="#15803d",
    icon="leaf",
    published_count=22_791,
    published_note="แปลงโคก หนอง นา งบเงินกู้ 2564 ใน 73 จังหวัด (BIGDATA กรมการพัฒนาชุมชน, 24 พ.ย. 2564)",
    sample=SampleSpec(recipe=sample.khok_nong_na),
)

LEARNING_CENTERS = Layer(
    id="learning-centers",
    title_th="ศูนย์เรียนรู้และขับเคลื่อนปรัชญาของเศรษฐกิจพอเพียง",
    title_en="Sufficiency-economy learning centers",
    description_th="ศูนย์เรียนรู้ฯ ระดับชุมชน สำหรับเรียนรู้และขับเคลื่อนปรัชญาของเศรษฐกิจพอเพียง",
    key_field="center_id",
    name_field="name",
    fields=(
        Field("center_id", "text", "รหัสศูนย์", "Center ID", required=True,
              headers=("รหัส", "id"), max_length=40),
        Field("name", "text", "ชื่อศูนย์", "Name", required=True,
              headers=("ชื่อศูนย์เรียนรู้", "ศูนย์เรียนรู้", "center name")),
        _PLACE,
        Field("budget_year", "year_be", "ปีที่ได้รับงบประมาณ (พ.ศ.)", "Budget year (B.E.)",
              filter="choice", headers=("ปีที่ได้รับงบประมาณ", "ปีงบประมาณ", "ปี", "year")),
        Field("ready", "bool", "พร้อมเป็นแหล่งเรียนรู้", "Ready as a learning site",
              filter="choice", headers=("ความพร้อม", "พร้อม", "ready to serve")),
        _PHONE,
    ),
    popup_fields=("name", "place", "budget_year", "ready", "phone"),
    color="#b45309",
    icon="book",
    published_count=1_885,
    published_note="ศูนย์เรียนรู้ฯ 1,885 แห่ง (BIGDATA กรมการพัฒนาชุมชน, 24 พ.ย. 2564)",
    roles=frozenset({"locator"}),
    sample=SampleSpec(recipe=sample.learning_centers),
)

VOLUNTEER_CENTERS = Layer(
    id="volunteer-centers",
    title_th="ศูนย์ผู้นำจิตอาสาพัฒนาชุมชน",
    title_en="Community-development volunteer leader centers",
    description_th="ศูนย์ผู้นำจิตอาสาพัฒนาชุมชน จังหวัดละหนึ่งแห่ง (ยกเว้นกรุงเทพมหานคร)",
    key_field="center_id",
    name_field="name",
    fields=(
        Field("center_id", "text", "รหัสศูนย์", "Center ID", required=True,
              headers=("รหัส", "id"), max_length=40),
        Field("name", "text", "ชื่อศูนย์", "Name", required=True, headers=("ศูนย์", "center name")),
        _PLACE,
        # Published contacts (CDD lists them publicly), so not treated as personal data.
        Field("chair_name", "text", "ประธานศูนย์", "Chair",
              headers=("ชื่อประธาน", "ชื่อประธานศูนย์", "chairperson")),
        Field("chair_phone", "phone", "โทรศัพท์ประธาน", "Chair's phone",
              headers=("เบอร์โทรประธาน", "โทรศัพท์", "phone")),
        Field("region_name", "text", "ภาค", "Region", headers=("region",)),
        Field("inspection_zone", "int", "เขตตรวจราชการ", "Inspection zone", minimum=1,
              maximum=18, filter="choice", headers=("เขตตรวจ", "zone")),
        Field("province_group", "text", "กลุ่มจังหวัด", "Province group",
              headers=("กลุ่ม", "group")),
    ),
    popup_fields=("name", "place", "chair_name", "chair_phone", "inspection_zone",
                  "province_group"),
    color="#7c3aed",
    icon="users",
    published_count=76,
    published_note="จังหวัดละ 1 ศูนย์ ยกเว้นกรุงเทพมหานคร (BIGDATA กรมการพัฒนาชุมชน)",
    roles=frozenset({"locator"}),
    sample=SampleSpec(recipe=sample.volunteer_centers),
)

OTOP_PRODUCT_TYPES = (
    Choice("food", "อาหาร", "Food", ("food",)),
    Choice("beverage", "เครื่องดื่ม", "Beverages", ("drink", "drinks")),
    Choice("textile", "ผ้า เครื่องแต่งกาย", "Textiles and clothing",
           ("ผ้าและเครื่องแต่งกาย", "ผ้า", "clothing", "textiles")),
    Choice("decor", "ของใช้ ของตกแต่ง ของที่ระลึก", "Household, decor and souvenirs",
           ("ของใช้", "ของที่ระลึก", "souvenir", "handicraft")),
    Choice("herbal", "สมุนไพรที่ไม่ใช่อาหาร", "Herbal products (non-food)",
           ("สมุนไพร", "herb", "herbal")),
)

# A LINE ID: 4–20 of a-z 0-9 . _ - (LINE's own rule); an official account's ID starts with @.
LINE_ID_PATTERN = r"@?[a-z0-9._-]{4,20}"
_DAY = (r"(?:วัน)?(?:จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัส|ศุกร์|เสาร์|อาทิตย์|พฤ|อา|จ|อ|พ|ศ|ส)\.?"
        r"|(?:monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thu|friday|fri|saturday"
        r"|sat|sunday|sun)\.?")
_TO = r"\s*(?:-|–|ถึง|to)\s*"
_DAYS = rf"ทุกวัน|every\s*day|daily|(?:{_DAY})(?:{_TO}(?:{_DAY}))?"
_TIME = r"(?:[01]?\d|2[0-4])[:.][0-5]\d"
_HOURS = rf"{_TIME}{_TO}{_TIME}(?:\s*น\.)?"
OPENING_DAYS_PATTERN = (rf"(?:{_DAYS})(?:\s*(?:,|และ|and|\s)\s*(?:{_DAYS}))*"
                        rf"(?:\s*,?\s*{_HOURS})?")
"""Opening days as a small controlled text: days (Thai or English, full or short, ranges with
"-" or "ถึง"), "ทุกวัน" / "daily", and at most one span of hours: "จ.-ศ. 08:30-16:30",
"ส. อา.", "Sat-Sun 9:00-17:00", "ทุกวัน"."""

OTOP_TOURISM_VILLAGES = Layer(
    id="otop-tourism-villages",
    title_th="ชุมชนท่องเที่ยว OTOP นวัตวิถี",
    title_en="OTOP Nawatwithi tourism villages",
    description_th="ชุมชนท่องเที่ยวที่นำภูมิปัญญาและผลิตภัณฑ์ OTOP มาเป็นจุดขาย",
    key_field="village_id",
    name_field="village_name",
    fields=(
        Field("village_id", "text", "รหัสชุมชน", "Village ID", required=True,
              headers=("รหัส", "id"), max_length=40),
        Field("village_name", "text", "ชื่อชุมชน", "Village", required=True,
              headers=("ชื่อหมู่บ้าน", "ชุมชน", "หมู่บ้าน", "name")),
        Field("village_name_en", "text", "ชื่อชุมชน (อังกฤษ)", "Village (English)",
              headers=("name en", "english name")),
        Field("highlights_th", "text", "จุดเด่น", "Highlights (Thai)",
              headers=("ไฮไลต์", "จุดเด่นของชุมชน"), max_length=4000),
        Field("highlights_en", "text", "จุดเด่น (อังกฤษ)", "Highlights",
              headers=("highlights",), max_length=4000),
        Field("products", "text", "ผลิตภัณฑ์", "Products", headers=("สินค้า", "ผลิตภัณฑ์ otop")),
        Field("product_type", "enum", "ประเภทผลิตภัณฑ์", "Product type", filter="choice",
              choices=OTOP_PRODUCT_TYPES, headers=("ประเภท", "type")),
        Field("photo_url", "url", "ภาพ", "Photo", headers=("รูปภาพ", "photo", "image")),
        Field("video_url", "url", "วิดีโอ", "Video", headers=("คลิป", "video")),
        Field("contact", "text", "ติดต่อ", "Contact", headers=("ผู้ประสานงาน", "contact person")),
        Field("guidebook_url", "url", "คู่มือท่องเที่ยว", "Guide book",
              headers=("ไกด์บุ๊ก", "guide book", "guidebook")),
        # The community's published contacts for visitors (a group's phone and LINE, as on its
        # leaflets and the department's pages), not a person's data under the PDPA: public.
        Field("phone", "phone", "โทรศัพท์ติดต่อชุมชน", "Phone",
              headers=("เบอร์โทร", "เบอร์โทรศัพท์", "โทรศัพท์", "tel", "telephone")),
        Field("line_id", "text", "ไลน์ไอดี", "LINE ID",
              headers=("ไอดีไลน์", "ไลน์", "line", "line official"), max_length=21,
              pattern=LINE_ID_PATTERN,
              pattern_hint="ไลน์ไอดี 4–20 ตัว a-z 0-9 . _ - (บัญชีทางการขึ้นต้นด้วย @) / a LINE ID "
                           "of 4–20 characters a-z, 0-9, '.', '_', '-' (an official account's "
                           "starts with @)"),
        Field("opening_days", "text", "วันเปิดให้เที่ยวชม", "Opening days",
              headers=("วันเปิด", "วันเปิดทำการ", "วันเวลาเปิด", "open days", "opening hours"),
              max_length=60, pattern=OPENING_DAYS_PATTERN,
              pattern_hint="วันในสัปดาห์และเวลา เช่น จ.-ศ. 08:30-16:30, ส. อา., ทุกวัน / days "
                           "of the week and hours, e.g. Mon-Fri 08:30-16:30, Sat Sun, daily"),
    ),
    popup_fields=("village_name", "village_name_en", "highlights_th", "products", "product_type",
                  "photo_url", "video_url", "contact", "guidebook_url", "phone", "line_id",
                  "opening_days"),
    color="#0369a1",
    icon="map-pin",
    published_count=3_680,
    published_note="ชุมชนท่องเที่ยว OTOP นวัตวิถี 3,680 ชุมชน (BIGDATA กรมการพัฒนาชุมชน)",
    roles=frozenset({"tour"}),
    search_fields=("village_name_en",),
    describe_fields=("products", "highlights_th", "highlights_en", "product_type"),
    sample=SampleSpec(recipe=sample.otop_tourism_villages),
)

PLANT_GENETICS_TREES = Layer(
    id="plant-genetics-trees",
    title_th="ต้นไม้ในโครงการอนุรักษ์พันธุกรรมพืช อพ.สธ.",
    title_en="Royal plant-genetics conservation trees (RSPG)",
    description_th="ต้นไม้ที่ศูนย์ของกรมการพัฒนาชุมชนบันทึกตามโครงการอนุรักษ์พันธุกรรมพืชอันเนื่องมาจากพระราชดำริฯ",
    key_field="tree_id",
    name_field="species_th",
    fields=(
        Field("tree_id", "text", "รหัสต้นไม้", "Tree ID", required=True, headers=("รหัส", "id"),
              max_length=40),
        Field("species_th", "text", "ชื่อพรรณไม้", "Species (Thai)", required=True,
              filter="choice", headers=("ชื่อพื้นเมือง", "ชื่อต้นไม้", "ชนิด", "species")),
        Field("species_scientific", "text", "ชื่อวิทยาศาสตร์", "Scientific name",
              headers=("scientific name", "ชื่อวิทย์")),
        Field("centre", "text", "ศูนย์ที่บันทึก", "Recorded by (CDD centre)", required=True,
              filter="choice", headers=("ศูนย์", "หน่วยงาน", "center", "centre")),
        Field("girth_cm", "float", "เส้นรอบวง (ซม.)", "Girth (cm)", minimum=1, maximum=3000,
              filter="range", headers=("เส้นรอบวง", "girth")),
        Field("height_m", "float", "ความสูง (ม.)", "Height (m)", minimum=0.1, maximum=100,
              filter="range", headers=("ความสูง", "height")),
        Field("photo_url", "url", "ภาพ", "Photo", headers=("รูปภาพ", "photo")),
        Field("recorded_on", "date", "วันที่บันทึก", "Date recorded",
              headers=("วันที่", "date", "recorded")),
    ),
    popup_fields=("species_th", "species_scientific", "centre", "girth_cm", "height_m",
                  "photo_url", "recorded_on"),
    color="#be123c",
    icon="tree",
    namesake_radius_m=2,  # trees of one species often stand a few metres apart
    temporal="recorded_on",
    published_note="บันทึกโดยศูนย์ศึกษาและพัฒนาชุมชน 11 แห่ง ศูนย์ศึกษาการพัฒนาเขาหินซ้อน "
                   "และศูนย์เรียนรู้ทุนชุมชนสารภี",
    sample=SampleSpec(recipe=sample.plant_genetics_trees),
)

LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (KHOK_NONG_NA, LEARNING_CENTERS, VOLUNTEER_CENTERS, OTOP_TOURISM_VILLAGES,
                  PLANT_GENETICS_TREES)
}


def layers_with(role: str) -> list[Layer]:
    """The layers that take part in a page (``tour``, ``locator``), in declaration order."""
    return [layer for layer in LAYERS.values() if role in layer.roles]
