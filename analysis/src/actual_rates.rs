//! Every rate two ways: the register's rate (registered ÷ recorded, as [`crate::kpi`] gives it)
//! and the estimated actual rate over the 实有人口 (registered ÷ (recorded + unrecorded)), with the
//! 90% interval the [`crate::unrecorded`] estimate carries, and a verdict against the target that
//! says "uncertain" when the interval straddles it.
//!
//! The numerator and the recorded count are exact; the unrecorded count `H` is uncertain, and the
//! rate `R / (K + H)` falls as `H` grows, so its interval is `[R / (K + H₉₅), R / (K + H₅)]`, the
//! image of `H`'s 90% interval (a monotone map keeps the coverage).
//!
//! Which rates: 流动人口登记率 and 登记做证率 divide by the actual persons, 出租房屋登记率 by the
//! actual rental units. 人户一致率 (over registered persons) and 治安责任保证书签订率 (over
//! registered units) divide by what the register holds by definition, so they have no second form.
//!
//! [`rollup`] gives the KPI rows of [`crate::kpi::rollup`] with these estimates beside them
//! ([`PlaceRates`]), each place's unrecorded the [`Unrecorded::total`] over its grids.

use crate::candidates::Lang;
use crate::kpi::{self, Counts, Level, Row, Targets};
use crate::unrecorded::{Unrecorded, UnrecordedTotal};
use rentgrid_geodata::{Atlas, GridId};
use serde::{Deserialize, Serialize};

/// How a place stands against a target once the unrecorded are counted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole 90% interval is at or above the target.
    Met,
    /// The whole interval is below it.
    Missed,
    /// The interval straddles the target.
    Uncertain,
}

impl Verdict {
    /// The verdict for an interval `[low, high]` against `target`.
    pub fn of(low: f64, high: f64, target: f64) -> Self {
        if low >= target {
            Verdict::Met
        } else if high < target {
            Verdict::Missed
        } else {
            Verdict::Uncertain
        }
    }

    /// The verdict in words: 达标 / 未达标 / 不确定.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Verdict::Met, Lang::Zh) => "达标",
            (Verdict::Missed, Lang::Zh) => "未达标",
            (Verdict::Uncertain, Lang::Zh) => "不确定",
            (Verdict::Met, Lang::En) => "met",
            (Verdict::Missed, Lang::En) => "missed",
            (Verdict::Uncertain, Lang::En) => "uncertain",
        }
    }
}

/// One rate estimated over the actual count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateEstimate {
    /// The estimate: numerator ÷ (recorded + estimated unrecorded).
    pub est: f64,
    /// 90% interval, lower end.
    pub low: f64,
    /// 90% interval, upper end.
    pub high: f64,
    /// Against the target.
    pub verdict: Verdict,
}

impl RateEstimate {
    /// `num / (recorded + H)` for `H` estimated `h` with 90% interval `[h_low, h_high]`, judged
    /// against `target`. `None` (no estimate, no verdict) when the interval admits an empty
    /// place, `recorded + h_low ≤ 0`: a place whose register holds nobody and whose unrecorded
    /// may be none has no rate at that end (0/0), so neither the interval nor a verdict exists.
    pub fn over_actual(num: u32, recorded: u32, h: f64, h_low: f64, h_high: f64, target: f64) -> Option<Self> {
        let (num, k) = (f64::from(num), f64::from(recorded));
        let smallest = k + h_low.min(h);
        if smallest.is_nan() || smallest <= 0.0 {
            return None;
        }
        let rate = |h: f64| num / (k + h);
        let (est, low, high) = (rate(h), rate(h_high.max(h)), rate(h_low.min(h)));
        Some(Self { est, low, high, verdict: Verdict::of(low, high, target) })
    }
}

/// A place's rates the register's way and over the actual counts: the `/api/stats` fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActualRates {
    /// Estimated persons the register lacks.
    pub persons_unrecorded_est: f64,
    /// Their 90% interval, lower end.
    pub persons_unrecorded_low: f64,
    /// Upper end.
    pub persons_unrecorded_high: f64,
    /// 流动人口登记率 as the register measures it (registered ÷ recorded), unchanged.
    pub reg_rate: Option<f64>,
    /// Estimated actual 流动人口登记率: registered ÷ (recorded + unrecorded).
    pub reg_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    pub reg_rate_est_low: Option<f64>,
    /// Upper end.
    pub reg_rate_est_high: Option<f64>,
    /// Against the registration target.
    pub reg_verdict: Option<Verdict>,
    /// 登记做证率 as the register measures it.
    pub permit_rate: Option<f64>,
    /// Estimated actual 登记做证率: registered with a permit ÷ actual persons.
    pub permit_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    pub permit_rate_est_low: Option<f64>,
    /// Upper end.
    pub permit_rate_est_high: Option<f64>,
    /// Against the permit target.
    pub permit_verdict: Option<Verdict>,
    /// Estimated rental units the register lacks.
    pub rental_units_unrecorded_est: f64,
    /// Their 90% interval, lower end.
    pub rental_units_unrecorded_low: f64,
    /// Upper end.
    pub rental_units_unrecorded_high: f64,
    /// 出租房屋登记率 as the register measures it.
    pub rental_rate: Option<f64>,
    /// Estimated actual 出租房屋登记率: registered units ÷ (recorded + unrecorded units).
    pub rental_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    pub rental_rate_est_low: Option<f64>,
    /// Upper end.
    pub rental_rate_est_high: Option<f64>,
    /// Against the rental registration target.
    pub rental_verdict: Option<Verdict>,
}

fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}

impl ActualRates {
    /// The rates of a place with register `counts` and unrecorded estimate `u` (the
    /// [`crate::unrecorded::Unrecorded::total`] over the place's grids), judged against `targets`.
    pub fn new(counts: &Counts, u: &UnrecordedTotal, targets: &Targets) -> Self {
        let s = &counts.stats;
        let persons = |num: u32, target: f64| {
            RateEstimate::over_actual(num, s.persons, u.persons, u.persons_low, u.persons_high, target)
        };
        let reg = persons(s.persons_registered, targets.reg_rate);
        let permit = persons(s.persons_with_permit, targets.permit_rate);
        let rental = RateEstimate::over_actual(
            s.rental_units_registered,
            s.rental_units,
            u.units,
            u.units_low,
            u.units_high,
            targets.rental_rate,
        );
        Self {
            persons_unrecorded_est: u.persons,
            persons_unrecorded_low: u.persons_low,
            persons_unrecorded_high: u.persons_high,
            reg_rate: ratio(s.persons_registered, s.persons),
            reg_rate_est: reg.map(|r| r.est),
            reg_rate_est_low: reg.map(|r| r.low),
            reg_rate_est_high: reg.map(|r| r.high),
            reg_verdict: reg.map(|r| r.verdict),
            permit_rate: ratio(s.persons_with_permit, s.persons),
            permit_rate_est: permit.map(|r| r.est),
            permit_rate_est_low: permit.map(|r| r.low),
            permit_rate_est_high: permit.map(|r| r.high),
            permit_verdict: permit.map(|r| r.verdict),
            rental_units_unrecorded_est: u.units,
            rental_units_unrecorded_low: u.units_low,
            rental_units_unrecorded_high: u.units_high,
            rental_rate: ratio(s.rental_units_registered, s.rental_units),
            rental_rate_est: rental.map(|r| r.est),
            rental_rate_est_low: rental.map(|r| r.low),
            rental_rate_est_high: rental.map(|r| r.high),
            rental_verdict: rental.map(|r| r.verdict),
        }
    }
}

/// A place's estimated actual rates as its `/api/stats` row and its exports carry them: the
/// unrecorded persons and rental units, and 流动人口登记率, 登记做证率 and 出租房屋登记率 over the
/// actual counts with their 90% intervals and verdicts. Every field is null when there is no
/// estimate (a past month's row: the estimate is of today's register) or no denominator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaceRates {
    /// Estimated persons living here whom the register does not hold (null for a past month).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub persons_unrecorded_est: Option<f64>,
    /// Their 90% interval, lower end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub persons_unrecorded_low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub persons_unrecorded_high: Option<f64>,
    /// Estimated actual 流动人口登记率: registered ÷ (recorded + unrecorded persons); never above
    /// `reg_rate`, which divides by the recorded only.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_est_low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_est_high: Option<f64>,
    /// Against the registration target: met when the whole interval is at or above it, missed
    /// when it is wholly below, uncertain otherwise.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_verdict: Option<Verdict>,
    /// Estimated actual 登记做证率: registered with a permit ÷ actual persons.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permit_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permit_rate_est_low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permit_rate_est_high: Option<f64>,
    /// Against the permit target.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permit_rate_verdict: Option<Verdict>,
    /// Estimated rental units here that the register does not hold.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_units_unrecorded_est: Option<f64>,
    /// Their 90% interval, lower end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_units_unrecorded_low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_units_unrecorded_high: Option<f64>,
    /// Estimated actual 出租房屋登记率: registered units ÷ (recorded + unrecorded units).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_rate_est: Option<f64>,
    /// Its 90% interval, lower end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_rate_est_low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_rate_est_high: Option<f64>,
    /// Against the rental registration target.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_rate_verdict: Option<Verdict>,
}

impl From<&ActualRates> for PlaceRates {
    fn from(a: &ActualRates) -> Self {
        Self {
            persons_unrecorded_est: Some(a.persons_unrecorded_est),
            persons_unrecorded_low: Some(a.persons_unrecorded_low),
            persons_unrecorded_high: Some(a.persons_unrecorded_high),
            reg_rate_est: a.reg_rate_est,
            reg_rate_est_low: a.reg_rate_est_low,
            reg_rate_est_high: a.reg_rate_est_high,
            reg_rate_verdict: a.reg_verdict,
            permit_rate_est: a.permit_rate_est,
            permit_rate_est_low: a.permit_rate_est_low,
            permit_rate_est_high: a.permit_rate_est_high,
            permit_rate_verdict: a.permit_verdict,
            rental_units_unrecorded_est: Some(a.rental_units_unrecorded_est),
            rental_units_unrecorded_low: Some(a.rental_units_unrecorded_low),
            rental_units_unrecorded_high: Some(a.rental_units_unrecorded_high),
            rental_rate_est: a.rental_rate_est,
            rental_rate_est_low: a.rental_rate_est_low,
            rental_rate_est_high: a.rental_rate_est_high,
            rental_rate_verdict: a.rental_verdict,
        }
    }
}

impl PlaceRates {
    /// The estimated rates of a place with register `counts` whose grids are `grids`, from the
    /// estimate `u` (all null without one). Each interval shown holds its estimate: where the
    /// Gamma law of a tiny expected count (a few hundredths of a unit) puts its whole 90% interval
    /// at 0, below the mean, the interval is widened to the mean, so that the interval, the rate
    /// read from it and the verdict never contradict the estimate beside them.
    pub fn of(counts: &Counts, grids: &[GridId], u: Option<&Unrecorded>, targets: &Targets) -> Self {
        u.map_or_else(Self::default, |u| (&ActualRates::new(counts, &holding_the_mean(u.total(grids)), targets)).into())
    }

    /// The rates of an area made of `grids` (a caseworker's contracted area), from the grids'
    /// counts summed and their unrecorded estimates combined as for a street.
    pub fn of_area(grid_counts: &[Counts], grids: &[GridId], u: Option<&Unrecorded>, targets: &Targets) -> Self {
        Self::of(&kpi::sum_of(grid_counts, grids), grids, u, targets)
    }
}

/// `t` with each 90% interval widened, if need be, to hold its estimate.
fn holding_the_mean(t: UnrecordedTotal) -> UnrecordedTotal {
    UnrecordedTotal {
        persons_low: t.persons_low.min(t.persons),
        persons_high: t.persons_high.max(t.persons),
        units_low: t.units_low.min(t.units),
        units_high: t.units_high.max(t.units),
        ..t
    }
}

/// One place's KPI row (the register's rates) with its estimated actual rates beside it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatesRow {
    /// The register's KPIs, unchanged.
    #[serde(flatten)]
    pub row: Row,
    /// The rates over the actual counts.
    #[serde(flatten)]
    pub actual: PlaceRates,
}

/// The KPI rows of every place at `level` ([`crate::kpi::rollup`], in the same order) with the
/// estimated actual rates from `unrecorded` (null without one, as for a past month's counts).
pub fn rollup(
    atlas: &Atlas,
    grid_counts: &[Counts],
    unrecorded: Option<&Unrecorded>,
    level: Level,
    targets: &Targets,
) -> Vec<RatesRow> {
    let all: Vec<GridId>;
    let places: Vec<&[GridId]> = match level {
        Level::Grid => {
            return grid_rows(atlas, grid_counts, unrecorded, targets, atlas.grids().iter().map(|g| g.grid.id));
        }
        Level::Community => atlas.communities().iter().map(|c| c.grids.as_slice()).collect(),
        Level::Street => atlas.streets().iter().map(|s| s.grids.as_slice()).collect(),
        Level::District => {
            all = atlas.grids().iter().map(|g| g.grid.id).collect();
            vec![all.as_slice()]
        }
    };
    kpi::rollup(atlas, grid_counts, level, targets)
        .into_iter()
        .zip(places)
        .map(|(row, grids)| {
            let actual = PlaceRates::of(&row.kpi.counts, grids, unrecorded, targets);
            RatesRow { row, actual }
        })
        .collect()
}

/// The rows of [`rollup`] at [`Level::Grid`] of `grids` only, in their order (an unknown id has
/// none): a caseworker's few grids without the district's thousands.
pub fn grid_rows(
    atlas: &Atlas,
    grid_counts: &[Counts],
    unrecorded: Option<&Unrecorded>,
    targets: &Targets,
    grids: impl IntoIterator<Item = GridId>,
) -> Vec<RatesRow> {
    grids
        .into_iter()
        .filter_map(|g| {
            let row = kpi::grid_row(atlas, grid_counts, g, targets)?;
            let actual = PlaceRates::of(&row.kpi.counts, &[g], unrecorded, targets);
            Some(RatesRow { row, actual })
        })
        .collect()
}

/// Which rate a sentence is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKind {
    /// 流动人口登记率.
    Registration,
    /// 登记做证率.
    Permit,
    /// 出租房屋登记率.
    Rental,
}

/// A whole percentage, as the UI shows it.
fn pct(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

/// The estimate in plain words: "估计实际登记率 79%（76%–82%）" or
/// "estimated actual registration rate 79% (76%–82%)".
pub fn describe(kind: RateKind, r: &RateEstimate, lang: Lang) -> String {
    let (est, low, high) = (pct(r.est), pct(r.low), pct(r.high));
    match lang {
        Lang::Zh => {
            let name = match kind {
                RateKind::Registration => "登记率",
                RateKind::Permit => "登记做证率",
                RateKind::Rental => "出租房屋登记率",
            };
            format!("估计实际{name} {est}（{low}–{high}）")
        }
        Lang::En => {
            let name = match kind {
                RateKind::Registration => "registration rate",
                RateKind::Permit => "registered-with-permit rate",
                RateKind::Rental => "rental registration rate",
            };
            format!("estimated actual {name} {est} ({low}–{high})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rentgrid_geodata::BuildingStats;

    #[test]
    fn the_interval_is_the_image_of_the_unrecorded_interval() {
        // 800 registered of 900 recorded, 100 unrecorded (80–130): 80% (77.9%–81.6%).
        let r = RateEstimate::over_actual(800, 900, 100.0, 80.0, 130.0, 0.9).unwrap();
        assert!((r.est - 0.8).abs() < 1e-12);
        assert!((r.low - 800.0 / 1030.0).abs() < 1e-12);
        assert!((r.high - 800.0 / 980.0).abs() < 1e-12);
        assert_eq!(r.verdict, Verdict::Missed);
        assert_eq!(describe(RateKind::Registration, &r, Lang::Zh), "估计实际登记率 80%（78%–82%）");
        assert_eq!(describe(RateKind::Registration, &r, Lang::En), "estimated actual registration rate 80% (78%–82%)");
        assert_eq!(RateEstimate::over_actual(0, 0, 0.0, 0.0, 0.0, 0.9), None);
    }

    #[test]
    fn an_empty_register_with_possibly_no_unrecorded_has_no_rate() {
        // 0 recorded, 0.4 unrecorded expected with interval [0, 2]: at the lower end the place
        // may hold nobody (0/0), so there is no rate and no verdict, not a "missed" 0%.
        assert_eq!(RateEstimate::over_actual(0, 0, 0.4, 0.0, 2.0, 0.9), None);
        // Surely somebody lives there and nobody is registered: 0% is a rate, and missed.
        let r = RateEstimate::over_actual(0, 0, 10.0, 4.0, 17.0, 0.9).unwrap();
        assert_eq!((r.est, r.low, r.high, r.verdict), (0.0, 0.0, 0.0, Verdict::Missed));
        // 3 recorded, all registered, unrecorded [0, 1]: 75% (75%–100%), uncertain against 90%.
        let r = RateEstimate::over_actual(3, 3, 0.5, 0.0, 1.0, 0.9).unwrap();
        assert_eq!((r.low, r.high, r.verdict), (0.75, 1.0, Verdict::Uncertain));
    }

    #[test]
    fn verdicts_follow_the_interval() {
        assert_eq!(Verdict::of(0.91, 0.95, 0.9), Verdict::Met);
        assert_eq!(Verdict::of(0.90, 0.95, 0.9), Verdict::Met);
        assert_eq!(Verdict::of(0.85, 0.89, 0.9), Verdict::Missed);
        assert_eq!(Verdict::of(0.88, 0.92, 0.9), Verdict::Uncertain);
        assert_eq!(Verdict::Uncertain.text(Lang::Zh), "不确定");
    }

    #[test]
    fn a_shown_interval_holds_its_estimate() {
        // A tiny expected count whose Gamma interval is [0, 0]: the interval is widened to it.
        let t =
            UnrecordedTotal { units: 0.02, persons: 3.0, persons_low: 1.0, persons_high: 6.0, ..Default::default() };
        let h = holding_the_mean(t);
        assert_eq!((h.units_low, h.units, h.units_high), (0.0, 0.02, 0.02));
        assert_eq!((h.persons_low, h.persons_high), (1.0, 6.0), "an interval holding its mean is unchanged");
    }

    #[test]
    fn the_register_rates_are_unchanged() {
        let stats = BuildingStats {
            rental_units: 40,
            rental_units_registered: 38,
            persons: 100,
            persons_registered: 90,
            persons_with_permit: 81,
            ..BuildingStats::default()
        };
        let counts = Counts { buildings: 1, area_km2: 1.0, stats };
        let u = UnrecordedTotal {
            persons: 20.0,
            persons_low: 10.0,
            persons_high: 30.0,
            units: 2.0,
            units_low: 0.0,
            units_high: 5.0,
            ..UnrecordedTotal::default()
        };
        let a = ActualRates::new(&counts, &u, &Targets::default());
        assert_eq!(a.reg_rate, Some(0.9));
        assert_eq!(a.reg_rate_est, Some(0.75));
        assert_eq!(a.reg_rate_est_high, Some(90.0 / 110.0));
        assert_eq!(a.permit_rate_est, Some(81.0 / 120.0));
        assert_eq!(a.rental_rate, Some(0.95));
        assert_eq!(a.rental_rate_est, Some(38.0 / 42.0));
        // 95% target: 38/45 = 84% to 38/40 = 95%: uncertain.
        assert_eq!(a.rental_verdict, Some(Verdict::Uncertain));
        assert_eq!(a.reg_verdict, Some(Verdict::Missed));
    }
}
