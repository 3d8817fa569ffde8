"""The synthetic cohort in MIMIC-IV MEDS conventions (`memaudit synth --style mimic`), as the public
MIMIC_IV_MEDS ETL writes codes:

- diagnoses `DIAGNOSIS//ICD//10//F1020`: undotted, the version in the code; ICD-9-CM for visits
  before `ICD9_UNTIL` for every code with an ICD-9 counterpart here. The US switched on 2015-10-01;
  the synthetic calendar (2015-2021) switches mid-way so that both codings are common;
- `GENDER//F|M` as a static row (time null), and `MEDS_BIRTH` at the birth date instead of an age band;
- no time-gap codes: the timestamps carry time;
- labs `LAB//<itemid>//<unit>` with the measured value, medications `MEDICATION//START//<name>`.

The subjects, their events and the ground truth are the ones of memaudit's own style.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import meds

from ..cohort.conventions import TIME_PREFIX
from . import clinical as cl

ICD9_UNTIL = datetime(2017, 7, 1)

# ICD-10-CM -> ICD-9-CM for the codes the clusters, the background and the random plants use
ICD9_OF: dict[str, str] = {
    "I10": "4019",
    "E11.9": "25000",
    "E78.5": "2724",
    "I25.10": "41400",
    "I48.91": "42731",
    "I50.9": "4289",
    "E66.9": "27800",
    "N18.30": "5853",
    "N18.4": "5854",
    "N18.6": "5856",
    "E87.5": "2767",
    "D63.1": "2851",
    "J44.9": "496",
    "J45.909": "49390",
    "J18.9": "486",
    "J96.01": "51881",
    "R06.02": "78605",
    "C34.90": "1629",
    "C50.919": "1749",
    "C18.9": "1539",
    "C61": "185",
    "D70.1": "28803",
    "A41.9": "0389",
    "N39.0": "5990",
    "J15.9": "4829",
    "L03.90": "6829",
    "R65.20": "99592",
    "F32.9": "311",
    "F41.1": "30002",
    "F33.1": "29632",
    "F43.10": "30981",
    "G47.00": "78052",
    "F10.20": "30390",
    "F11.20": "30400",
    "F12.20": "30430",
    "K70.30": "5712",
    "B20": "042",
    "Z21": "V08",
    "A54.9": "0989",
    "A53.9": "0979",
    "A56.19": "09953",
    "Z00.00": "V700",
    "R51.9": "7840",
    "M54.50": "7242",
    "K21.9": "53081",
    "E03.9": "2449",
    "D64.9": "2859",
}
ICD9_DESCRIPTIONS = {
    "042": "Human immunodeficiency virus [HIV] disease",
    "V08": "Asymptomatic human immunodeficiency virus [HIV] infection status",
}

# lab name -> (MIMIC-IV item id, unit)
LAB_ITEMS: dict[str, tuple[int, str]] = {
    "HBA1C": (50852, "%"),
    "GLUCOSE": (50931, "mg/dL"),
    "LDL": (50905, "mg/dL"),
    "BNP": (50963, "pg/mL"),
    "CREATININE": (50912, "mg/dL"),
    "POTASSIUM": (50971, "mEq/L"),
    "EGFR": (50920, "mL/min/1.73 m2"),
    "HEMOGLOBIN": (51222, "g/dL"),
    "PCO2": (50818, "mm Hg"),
    "PO2": (50821, "mm Hg"),
    "WBC": (51301, "K/uL"),
    "PLATELETS": (51265, "K/uL"),
    "LACTATE": (50813, "mmol/L"),
    "CRP": (50889, "mg/L"),
    "TSH": (50993, "uIU/mL"),
    "GGT": (50927, "IU/L"),
    "AST": (50878, "IU/L"),
    "ALT": (50861, "IU/L"),
    "CD4": (51706, "cells/uL"),
    "HIV_VIRAL_LOAD": (51694, "copies/mL"),
    "RPR": (51462, "titer"),
    "SODIUM": (50983, "mEq/L"),
}


def diagnosis(icd10: str, when: datetime) -> str:
    """A diagnosis as MIMIC-IV MEDS writes it at that date."""
    if when < ICD9_UNTIL and icd10 in ICD9_OF:
        return f"DIAGNOSIS//ICD//9//{ICD9_OF[icd10]}"
    return f"DIAGNOSIS//ICD//10//{icd10.replace('.', '')}"


def convert(
    events: list[tuple[datetime, str, float | None]], age: float
) -> list[tuple[datetime | None, str, float | None]]:
    """One subject's events (memaudit's style, time-ordered) in MIMIC-IV MEDS conventions."""
    out: list[tuple[datetime | None, str, float | None]] = []
    first = events[0][0]
    for t, code, value in events:
        kind, _, rest = code.partition("//")
        if kind == "SEX":
            out.insert(0, (None, f"GENDER//{rest}", None))
        elif kind == "AGE":
            out.append((first - timedelta(days=age * 365.25), meds.birth_code, None))
        elif code.startswith(TIME_PREFIX):
            continue
        elif kind == "DIAGNOSIS":
            out.append((t, diagnosis(rest.rsplit("//", 1)[-1], t), value))
        elif kind == "LAB":
            name = rest.split("//")[0]
            item, unit = LAB_ITEMS[name]
            out.append((t, f"LAB//{item}//{unit}", value))
        elif kind == "MEDICATION":
            out.append((t, f"MEDICATION//START//{rest.replace('_', ' ').capitalize()}", value))
        else:
            out.append((t, code, value))
    static = [e for e in out if e[0] is None]
    timed = sorted((e for e in out if e[0] is not None), key=lambda e: e[0])  # stable: keeps same-time order
    return static + timed


def describe(code: str) -> str | None:
    """Descriptions for metadata/codes.parquet, as the ETL takes them from the ICD tables."""
    if code.startswith("DIAGNOSIS//ICD//10//"):
        import simple_icd_10_cm as icd

        raw = code.rsplit("//", 1)[-1]
        dotted = raw if len(raw) <= 3 else f"{raw[:3]}.{raw[3:]}"
        return icd.get_description(dotted) if icd.is_valid_item(dotted) else None
    if code.startswith("DIAGNOSIS//ICD//9//"):
        return ICD9_DESCRIPTIONS.get(code.rsplit("//", 1)[-1])
    if code.startswith("LAB//"):
        item = int(code.split("//")[1])
        name = next(n for n, (i, _) in LAB_ITEMS.items() if i == item)
        return f"Laboratory {name.replace('_', ' ').lower()}"
    if code.startswith("MEDICATION//START//"):
        return f"Medication {code.rsplit('//', 1)[-1]}"
    return cl.describe(code)
