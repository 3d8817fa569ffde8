"""Clinical building blocks of the synthetic cohort: latent comorbidity clusters.

Each cluster ties diagnoses (real ICD-10-CM codes) to the labs, medications and procedures
that go with them, so a model trained on the cohort can learn population structure. Clusters
whose diagnoses fall in a sensitive group plant that group *by pattern*: the rest of the
timeline (medications, labs) predicts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cohort.conventions import TIME_BINS


@dataclass(frozen=True)
class Cluster:
    name: str
    base_rate: float  # prevalence at age 50
    age_slope: float  # multiplicative change in odds per decade over 50
    diagnoses: tuple[str, ...]
    labs: tuple[tuple[str, str], ...]  # (lab name, abnormal bin)
    medications: tuple[str, ...]
    procedures: tuple[str, ...]


CLUSTERS: tuple[Cluster, ...] = (
    Cluster(
        "cardiometabolic",
        0.30,
        1.5,
        ("I10", "E11.9", "E78.5", "I25.10", "I48.91", "I50.9", "E66.9"),
        (("HBA1C", "HIGH"), ("GLUCOSE", "HIGH"), ("LDL", "HIGH"), ("BNP", "HIGH")),
        ("metformin", "atorvastatin", "lisinopril", "metoprolol", "insulin_glargine", "apixaban"),
        ("echocardiogram", "electrocardiogram"),
    ),
    Cluster(
        "renal",
        0.08,
        1.6,
        ("N18.30", "N18.4", "N18.6", "E87.5", "D63.1"),
        (("CREATININE", "HIGH"), ("POTASSIUM", "HIGH"), ("EGFR", "LOW"), ("HEMOGLOBIN", "LOW")),
        ("sevelamer", "epoetin_alfa", "calcitriol", "furosemide"),
        ("hemodialysis", "renal_ultrasound"),
    ),
    Cluster(
        "respiratory",
        0.12,
        1.3,
        ("J44.9", "J45.909", "J18.9", "J96.01", "R06.02"),
        (("PCO2", "HIGH"), ("PO2", "LOW"), ("WBC", "HIGH")),
        ("albuterol", "tiotropium", "prednisone", "azithromycin"),
        ("chest_xray", "spirometry"),
    ),
    Cluster(
        "oncology",
        0.06,
        1.5,
        ("C34.90", "C50.919", "C18.9", "C61", "D70.1"),
        (("WBC", "LOW"), ("HEMOGLOBIN", "LOW"), ("PLATELETS", "LOW")),
        ("carboplatin", "paclitaxel", "ondansetron", "filgrastim"),
        ("ct_chest", "chemotherapy_infusion"),
    ),
    Cluster(
        "infectious",
        0.10,
        1.3,
        ("A41.9", "N39.0", "J15.9", "L03.90", "R65.20"),
        (("LACTATE", "HIGH"), ("WBC", "HIGH"), ("CRP", "HIGH")),
        ("ceftriaxone", "vancomycin", "piperacillin_tazobactam"),
        ("blood_culture", "central_line"),
    ),
    Cluster(
        "psychiatric",
        0.10,
        0.8,
        ("F32.9", "F41.1", "F33.1", "F43.10", "G47.00"),
        (("TSH", "NORMAL"),),
        ("sertraline", "escitalopram", "quetiapine", "trazodone"),
        ("psychotherapy",),
    ),
    Cluster(
        "substance",
        0.05,
        0.8,
        ("F10.20", "F11.20", "F12.20", "K70.30"),
        (("GGT", "HIGH"), ("AST", "HIGH"), ("ALT", "HIGH")),
        ("naltrexone", "buprenorphine", "thiamine"),
        ("addiction_counseling",),
    ),
    Cluster(
        "hiv_care",
        0.03,
        0.7,
        ("B20", "Z21"),
        (("CD4", "LOW"), ("HIV_VIRAL_LOAD", "HIGH")),
        ("bictegravir_emtricitabine_tenofovir", "dolutegravir", "sulfamethoxazole_trimethoprim"),
        ("infectious_disease_consult",),
    ),
    Cluster(
        "sexual_health",
        0.03,
        0.6,
        ("A54.9", "A53.9", "A56.19"),
        (("RPR", "HIGH"),),
        ("doxycycline", "penicillin_g_benzathine", "ceftriaxone"),
        ("std_screening",),
    ),
)

BACKGROUND_DIAGNOSES = ("Z00.00", "R51.9", "M54.50", "K21.9", "E03.9", "D64.9")
BACKGROUND_LABS = ("SODIUM", "POTASSIUM", "HEMOGLOBIN", "WBC", "CREATININE", "GLUCOSE")

# One code per sensitive group for planting at random: a bare diagnosis with none of the
# medications or labs that would make it predictable.
RANDOM_PLANT_CODES: dict[str, tuple[str, ...]] = {
    "hiv": ("B20", "Z21"),
    "substance_use": ("F10.20", "F11.20", "F12.20"),
    "mental_health": ("F32.9", "F41.1", "F43.10"),
    "sti": ("A54.9", "A53.9", "A56.19"),
}

# Chapters whose leaf codes supply the rare-condition pool (none used by the clusters).
RARE_CHAPTER_PREFIXES = ("Q", "G7", "H3", "L1", "M3", "D8")

LAB_REFERENCE: dict[str, tuple[float, float]] = {
    "HBA1C": (4.0, 5.6),
    "GLUCOSE": (70, 99),
    "LDL": (50, 129),
    "BNP": (0, 100),
    "CREATININE": (0.6, 1.2),
    "POTASSIUM": (3.5, 5.0),
    "EGFR": (60, 120),
    "HEMOGLOBIN": (12, 17),
    "PCO2": (35, 45),
    "PO2": (75, 100),
    "WBC": (4.5, 11),
    "PLATELETS": (150, 400),
    "LACTATE": (0.5, 2.0),
    "CRP": (0, 10),
    "TSH": (0.4, 4.0),
    "GGT": (8, 61),
    "AST": (8, 33),
    "ALT": (7, 56),
    "CD4": (500, 1500),
    "HIV_VIRAL_LOAD": (0, 20),
    "RPR": (0, 1),
    "SODIUM": (135, 145),
}


def dx(icd: str) -> str:
    return f"DIAGNOSIS//ICD10CM//{icd}"


def lab(name: str, level: str) -> str:
    return f"LAB//{name}//{level}"


def med(name: str) -> str:
    return f"MEDICATION//{name}"


def proc(name: str) -> str:
    return f"PROCEDURE//{name}"


def age_band(age: float) -> str:
    low = int(age // 5 * 5)
    return f"AGE//{low}-{low + 4}"


def time_bin(days: float) -> str:
    for label, _, high in TIME_BINS:
        if days < high:
            return label
    return TIME_BINS[-1][0]


def describe(code: str) -> str:
    """A human description of a code, with ICD-10-CM text from simple-icd-10-cm."""
    kind, _, rest = code.partition("//")
    if kind == "DIAGNOSIS":
        import simple_icd_10_cm as icd

        c = rest.split("//")[-1]
        return icd.get_description(c) if icd.is_valid_item(c) else f"Diagnosis {c}"
    if kind == "LAB":
        name, _, level = rest.partition("//")
        return f"Laboratory {name.replace('_', ' ').lower()}, {level.lower()}"
    if kind == "MEDICATION":
        return f"Medication {rest.replace('_', ' ')}"
    if kind == "PROCEDURE":
        return f"Procedure {rest.replace('_', ' ')}"
    if kind == "AGE":
        return f"Age band {rest} years"
    if kind == "SEX":
        return {"F": "Sex female", "M": "Sex male"}.get(rest, f"Sex {rest}")
    if kind == "TIME":
        return f"Time since previous visit {rest}"
    return code
