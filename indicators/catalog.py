"""The indicator tables in the open data folder (``indicators/``), described once."""

from __future__ import annotations

from indicators.tables import IndicatorSpec, TableSpec

NSO_SOURCE = ("NSO Household Socio-Economic Survey (สำนักงานสถิติแห่งชาติ), cleaned by "
              "jittat/public-cleaned-data")
DGA = "DGA Open Government Licence"

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        file="nso_avg_monthly_household_income_by_province_2541_2558.csv",
        level="province", keys=("จังหวัด", "Province"), source=NSO_SOURCE, licence=DGA,
        indicators=(IndicatorSpec("nso-household-income", "รายได้เฉลี่ยต่อเดือนต่อครัวเรือน",
                                  "Average monthly household income", "บาท/เดือน (baht/month)"),),
    ),
    TableSpec(
        file="nso_avg_monthly_household_expenditure_by_province_2549_2558.csv",
        level="province", keys=("จังหวัด", "provinces"), source=NSO_SOURCE, licence=DGA,
        indicators=(IndicatorSpec("nso-household-expenditure",
                                  "ค่าใช้จ่ายเฉลี่ยต่อเดือนต่อครัวเรือน",
                                  "Average monthly household expenditure",
                                  "บาท/เดือน (baht/month)"),),
    ),
    TableSpec(
        file="oae_major_rice_2562_by_province_mapthai.csv",
        level="province", keys=("province_code",),
        source="Office of Agricultural Economics (สำนักงานเศรษฐกิจการเกษตร), via piyayut-ch/mapthai",
        licence="MIT",
        indicators=(
            IndicatorSpec("oae-rice-area-planted", "เนื้อที่เพาะปลูกข้าวนาปี", "Major rice area planted",
                          "ไร่ (rai)", "area_plant", 2562),
            IndicatorSpec("oae-rice-production", "ผลผลิตข้าวนาปี", "Major rice production",
                          "ตัน (tonnes)", "production", 2562),
            IndicatorSpec("oae-rice-yield", "ผลผลิตข้าวนาปีต่อไร่เก็บเกี่ยว",
                          "Major rice yield per harvested rai", "กก./ไร่ (kg/rai)",
                          "yield_harvest", 2562),
        ),
    ),
    TableSpec(
        file="osm_poi_density_by_subdistrict_viriyatae.csv",
        level="subdistrict", keys=("sub_id",),
        source="OpenStreetMap contributors, via viriyatae/Thailand-Subdistrict",
        licence="ODbL",
        indicators=(
            IndicatorSpec("osm-poi-count", "จำนวนจุดสนใจ (OSM)", "Points of interest (OSM)",
                          "แห่ง (POIs)", "poi"),
            IndicatorSpec("osm-amenity-density", "ความหนาแน่นสิ่งอำนวยความสะดวก (OSM)",
                          "Amenity density (OSM)", "แห่ง/ตร.กม. (per km²)", "amenity"),
        ),
    ),
    TableSpec(
        file="kchch2k_village_levels_2564_by_region.csv",
        level="region", keys=("region_th", "region_en"),
        source="กรมการพัฒนาชุมชน, ข้อมูล กชช.2ค (BIGDATA กรมการพัฒนาชุมชน)",
        licence="CDD published figures",
        indicators=(
            IndicatorSpec("kchch2k-villages", "หมู่บ้านที่สำรวจ กชช.2ค", "Villages surveyed (KChCh 2Kh)",
                          "หมู่บ้าน (villages)", "villages_total", 2564),
            IndicatorSpec("kchch2k-level1", "หมู่บ้านล้าหลัง (ระดับ 1)",
                          "Lagging villages (level 1)", "หมู่บ้าน (villages)", "level1_count", 2564),
            IndicatorSpec("kchch2k-level3", "หมู่บ้านก้าวหน้า (ระดับ 3)",
                          "Advanced villages (level 3)", "หมู่บ้าน (villages)", "level3_count", 2564),
        ),
    ),
    TableSpec(
        file="province_population_area_prasertcbs.csv",
        level="province", keys=("name_th", "name_en"),
        source="prasertcbs/thailand_gis (year and source not stated: demo only)",
        licence="unknown (demo only)",
        indicators=(IndicatorSpec("population", "ประชากร (ตัวอย่าง)", "Population (demo)",
                                  "คน (people)", "population"),),
    ),
)
