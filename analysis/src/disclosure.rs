//! Small-count suppression (小数抑制, k = 5) for the aggregates leaders see: no count of persons
//! under [`K`] in a place, and nothing a suppressed count can be read back from.
//!
//! A count of 1 or 2 persons in a grid says who lives there to anyone who knows the street, so a
//! place shown to a leader reports a person count under 5 as null ("<5" in a table). Every figure
//! computed from such a count goes with it: a rate whose numerator or denominator is hidden (from
//! `reg_rate = registered / persons` and `persons` one gets `registered` back), a density (times
//! the area it is the count), the registration status, an estimate over the actual persons.
//!
//! The rule is one table from a field's name to the person counts it is computed from
//! ([`sources`]), so the JSON of the API, the vector tiles, the exports and the hot-spot inputs
//! hide the same fields for the same place. Counts of rental units, buildings and visits are not
//! counts of persons and stay.
//!
//! Not covered (documented limits): a parent total minus its shown children can reveal a single
//! suppressed child (no secondary suppression), and a place's count of *unregistered* persons
//! (persons − registered) under 5 is hidden only where it is shown as its own field.

use rentgrid_geodata::BuildingStats;

/// The smallest count of persons shown to a leader.
pub const K: u32 = 5;

/// A person count a shown figure is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonCount {
    /// Persons recorded.
    Persons,
    /// Of which registered.
    Registered,
    /// Of the registered, with a permit.
    WithPermit,
    /// Of the registered, at their registered address.
    Consistent,
    /// Recorded and not registered.
    Unregistered,
    /// The field's own value: a count of persons not otherwise known (e.g. persons in dormitories).
    Itself,
}

impl PersonCount {
    /// Its value in `s`.
    pub fn of(self, s: &BuildingStats) -> u32 {
        match self {
            PersonCount::Persons => s.persons,
            PersonCount::Registered => s.persons_registered,
            PersonCount::WithPermit => s.persons_with_permit,
            PersonCount::Consistent => s.persons_consistent,
            PersonCount::Unregistered => s.persons.saturating_sub(s.persons_registered),
            PersonCount::Itself => 0,
        }
    }
}

use PersonCount::*;

/// Field names (exact, or a prefix marked by a trailing `*`) and the person counts they come from,
/// most specific first. A field not listed is not computed from persons.
const TABLE: &[(&str, &[PersonCount])] = &[
    ("persons_registered", &[Registered]),
    ("persons_with_permit", &[WithPermit]),
    ("persons_consistent", &[Consistent]),
    ("persons_per_km2", &[Persons]),
    ("persons", &[Persons]),
    ("persons*", &[Persons, Itself]),
    ("unregistered_persons", &[Unregistered]),
    ("unregistered_persons*", &[Unregistered, Itself]),
    ("unregistered_per_km2", &[Unregistered]),
    ("reg_rate*", &[Persons, Registered]),
    ("reg_status", &[Persons, Registered]),
    ("permit_rate*", &[Persons, WithPermit]),
    ("consistency_rate*", &[Registered, Consistent]),
];

/// The person counts the field `name` is computed from (empty: not from persons).
pub fn sources(name: &str) -> &'static [PersonCount] {
    TABLE
        .iter()
        .find(|(pattern, _)| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *pattern,
        })
        .map_or(&[], |(_, s)| s)
}

/// True when the field `name` of a place with counts `s` must not be shown to a leader: one of
/// the person counts it comes from is under [`K`].
pub fn hides(name: &str, s: &BuildingStats) -> bool {
    hides_value(name, s, None)
}

/// [`hides`] for a field whose value is `own`: a field counting persons in its own way (e.g.
/// `persons_concentrated`) is hidden when that value is under [`K`] too, or when it is not known.
pub fn hides_value(name: &str, s: &BuildingStats, own: Option<f64>) -> bool {
    sources(name).iter().any(|c| match c {
        PersonCount::Itself => own.is_none_or(|v| v < f64::from(K)),
        c => c.of(s) < K,
    })
}

/// The figures of a staffing row (配备) computed from its place's population: the caseworkers
/// its persons call for, at a known ratio, give the persons back.
pub const FROM_POPULATION: [&str; 6] =
    ["ratio_required", "required", "required_rounded", "gap", "to_hire", "yearly_cost_yuan"];

/// True when the field `name` (value `own`) of a staffing row of a place of `persons` persons
/// must not be shown to a leader.
pub fn hides_in_staffing(name: &str, persons: f64, own: Option<f64>) -> bool {
    let s = BuildingStats { persons: persons.clamp(0.0, f64::from(u32::MAX)) as u32, ..BuildingStats::default() };
    (FROM_POPULATION.contains(&name) && s.persons < K) || hides_value(name, &s, own)
}

/// True when a count of persons `n` is too small to show.
pub fn small(n: u32) -> bool {
    n < K
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(persons: u32, registered: u32, permit: u32, consistent: u32) -> BuildingStats {
        BuildingStats {
            rental_units: 2,
            rental_units_registered: 1,
            pledges_signed: 1,
            persons,
            persons_registered: registered,
            persons_with_permit: permit,
            persons_consistent: consistent,
            visits: 3,
        }
    }

    #[test]
    fn every_kpi_field_is_classified() {
        assert_eq!(sources("persons"), &[Persons]);
        assert_eq!(sources("persons_registered"), &[Registered]);
        assert_eq!(sources("reg_rate_low"), &[Persons, Registered]);
        assert_eq!(sources("reg_rate_est_high"), &[Persons, Registered]);
        assert_eq!(sources("permit_rate"), &[Persons, WithPermit]);
        assert_eq!(sources("persons_unrecorded_est"), &[Persons, Itself]);
        for not_persons in ["rental_units", "rental_rate", "pledge_rate", "buildings", "visits", "area_km2", "code"] {
            assert!(sources(not_persons).is_empty(), "{not_persons}");
        }
    }

    #[test]
    fn a_small_count_hides_itself_and_what_is_computed_from_it() {
        // 40 persons, 37 registered, 3 with a permit, 30 consistent.
        let s = stats(40, 37, 3, 30);
        assert!(!hides("persons", &s) && !hides("reg_rate", &s) && !hides("reg_status", &s));
        assert!(hides("persons_with_permit", &s) && hides("permit_rate", &s));
        // 3 unregistered persons: hidden where shown as such.
        assert!(hides("unregistered_persons", &s) && hides("unregistered_per_km2", &s));
        assert!(!hides("rental_units", &s) && !hides("pledge_rate", &s));
        // A place of 4 persons shows nothing about persons.
        let tiny = stats(4, 4, 4, 4);
        for f in ["persons", "persons_registered", "reg_rate", "reg_rate_high", "persons_per_km2", "consistency_rate"] {
            assert!(hides(f, &tiny), "{f}");
        }
        assert!(!hides("rental_rate", &tiny));
        // A count of persons of its own kind: hidden when small, or when the place is.
        assert!(hides_value("persons_concentrated", &s, Some(3.0)));
        assert!(!hides_value("persons_concentrated", &s, Some(12.0)));
        assert!(hides_value("persons_concentrated", &tiny, Some(12.0)));
        assert!(hides("persons_concentrated", &s), "unknown value: hidden");
        // Staffing: the caseworkers a place's persons call for go with its persons.
        assert!(
            hides_in_staffing("ratio_required", 3.0, Some(0.03)) && !hides_in_staffing("ratio_required", 300.0, None)
        );
        assert!(hides_in_staffing("persons", 3.0, Some(3.0)) && !hides_in_staffing("rental_units", 3.0, Some(2.0)));
        // Exactly K is shown; zero is a count under K.
        assert!(!hides("persons", &stats(5, 5, 5, 5)) && hides("persons", &stats(0, 0, 0, 0)));
    }
}
