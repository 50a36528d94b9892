"""Facts and stated assumptions about Leicester, Leicestershire and Rutland used to build the
embedded default dataset. Every figure here is either a fact with its source or an
assumption marked as such; both are copied into the dataset's provenance table."""

from __future__ import annotations

# ONS mid-2020 population estimates by local authority district: total, 65+, 75+, 85+
# (a check on the LSOA figures, and the totals an LSOA without figures is spread from).
ONS_MID2020_SOURCE = "ONS mid-year population estimates, mid-2020 (local authority districts)"
ONS_LICENCE = "Open Government Licence v3.0; Source: Office for National Statistics"
DISTRICTS = {
    # code: (name, total, 65+, 75+, 85+)
    "E06000016": ("Leicester", 354_036, 43_602, 18_931, 5_930),
    "E06000017": ("Rutland", 40_476, 10_345, 4_964, 1_450),
    "E07000129": ("Blaby", 101_950, 20_797, 9_763, 2_703),
    "E07000130": ("Charnwood", 188_416, 34_182, 15_693, 4_449),
    "E07000131": ("Harborough", 95_537, 20_998, 9_701, 2_678),
    "E07000132": ("Hinckley and Bosworth", 113_666, 25_166, 11_347, 2_992),
    "E07000133": ("Melton", 51_394, 12_049, 5_362, 1_484),
    "E07000134": ("North West Leicestershire", 104_809, 21_109, 9_204, 2_370),
    "E07000135": ("Oadby and Wigston", 57_313, 12_374, 6_418, 2_156),
}
LLR_POPULATION_TOTAL = 1_107_597

# Population projections (ONS 2022-based SNPP, every year 2022-2047) and the small-area
# populations and deprivation of each LSOA are shipped as tables derived from the official
# files: optimiser/dataset/llr_projections.csv and llr_lsoa_figures.csv (see derive.py).

# Sub-ICB locations (the former clinical commissioning groups) of LLR.
SUB_ICBS = {
    "04C": "Leicester City",
    "03W": "East Leicestershire and Rutland",
    "04V": "West Leicestershire",
}

SITES_SOURCE = "NHS ODS site codes (2018) and postcode centroids (ONS postcode directory)"
# site_id: (name, ODS code, postcode, lat, lon)
SITES = {
    "loughborough": ("Loughborough Hospital", "RT5PD", "LE11 5JY", 52.773291, -1.225946),
    "coalville": ("Coalville Community Hospital", "RT5PE", "LE67 4DE", 52.722883, -1.349847),
    "hinckley": ("Hinckley & Bosworth Community Hospital", "RY8DJ", "LE10 3DA", 52.560010, -1.372436),
    "melton": ("Melton Mowbray Hospital", "RT5PA", "LE13 1SJ", 52.765938, -0.877296),
    "rutland": ("Rutland Memorial Hospital, Oakham", "RT5PC", "LE15 6NT", 52.670802, -0.737539),
    "st_lukes": ("St Luke's Hospital, Market Harborough", "RT5RA", "LE16 7BN", 52.487210, -0.931090),
    "feilding_palmer": ("Feilding Palmer Hospital, Lutterworth", "RT5PH", "LE17 4DZ", 52.457853, -1.197800),
    "evington": ("Evington Centre, Leicester", "RT5KT", "LE5 4QG", 52.631394, -1.084526),
}

PATHWAYS = ("rehab", "stroke", "palliative")

# Current beds. ("seed", paper, key) reads a figure from seeds/; a number is an assumption.
# East Leicestershire and Rutland's four hospitals are facts from the 2015 summary (001):
# each general ward figure is the hospital's total less its one designated palliative bed.
CURRENT_BEDS = {
    "feilding_palmer": {"rehab": ("seed_less_one", "001", "beds_feilding_palmer"),
                        "stroke": 0, "palliative": ("seed", "001", "palliative_beds_per_hospital")},
    "melton": {"rehab": ("seed_less_one", "001", "beds_melton_mowbray"),
               "stroke": 0, "palliative": ("seed", "001", "palliative_beds_per_hospital")},
    "rutland": {"rehab": ("seed_less_one", "001", "beds_rutland_memorial"),
                "stroke": 0, "palliative": ("seed", "001", "palliative_beds_per_hospital")},
    "st_lukes": {"rehab": ("seed", "001", "beds_st_lukes_rehab_care_of_elderly"),
                 "stroke": ("seed", "001", "beds_st_lukes_stroke_rehab"),
                 "palliative": ("seed", "001", "palliative_beds_per_hospital")},
    # West Leicestershire: 111 beds in three hospitals (004), split by site is NOT published.
    "loughborough": {"rehab": 41, "stroke": 0, "palliative": 1},
    "coalville": {"rehab": 40, "stroke": 0, "palliative": 1},
    "hinckley": {"rehab": 27, "stroke": 0, "palliative": 1},
    # Evington Centre (Leicester City): no figure in the papers.
    "evington": {"rehab": 48, "stroke": 0, "palliative": 0},
}
WEST_SITES = ("loughborough", "coalville", "hinckley")
WEST_BEDS_SEED = ("004", "wl_community_inpatient_beds_current")

# Estate: whether beds can be added, and the most beds a site can hold (assumptions).
ESTATE = {
    "loughborough": (True, 58),
    "coalville": (True, 57),
    "hinckley": (True, 44),
    "melton": (True, 33),
    "rutland": (True, 38),
    "st_lukes": (True, 52),
    "feilding_palmer": (False, 13),
    "evington": (True, 64),
}

# Current virtual (home-based) beds by sub-ICB area; spread to districts by 65+ population.
VIRTUAL_BEDS = {
    "03W": ("seed", "001", "elr_virtual_beds_current"),
    "04V": ("seed", "004", "wl_home_based_beds_current"),
    # Leicester City: not in the papers; assumed pro rata to West Leicestershire per 65+ resident.
    "04C": "pro_rata_04V",
}
