//! The one error type of the statistics modules (weights, hot spots, density) and its `Result` alias.

use thiserror::Error;

/// What can be wrong with the input of a spatial statistic.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// Two inputs that must have one entry per site (or per month) differ in length.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        /// Which input.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A neighbour list names a site that does not exist.
    #[error("site {site} names neighbour {neighbour}, but there are only {n} sites")]
    NeighbourOutOfRange {
        /// The site whose list is wrong.
        site: usize,
        /// The id it names.
        neighbour: u32,
        /// How many sites there are.
        n: usize,
    },
    /// A value, coordinate or weight is NaN or infinite.
    #[error("{what} at index {index} is not a finite number")]
    NotFinite {
        /// Which input.
        what: &'static str,
        /// Where.
        index: usize,
    },
    /// A parameter is outside its range.
    #[error("parameter {name} = {value}: {reason}")]
    Parameter {
        /// Its name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        reason: &'static str,
    },
    /// The parameters ask for more work than one run is allowed.
    #[error(
        "{what}: these parameters make {needed} of them, at most {max} are computed in one run; \
         use a shorter distance band, fewer neighbours or permutations, or a coarser resolution"
    )]
    TooMuchWork {
        /// What is counted (neighbour pairs, permutation draws).
        what: &'static str,
        /// How many the run would make (at least).
        needed: usize,
        /// The most allowed.
        max: usize,
    },
}

/// Results of the statistics modules.
pub type StatsResult<T> = Result<T, StatsError>;

/// Checks that every value is finite.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> StatsResult<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NotFinite { what, index }),
        None => Ok(()),
    }
}

/// Checks a length.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> StatsResult<()> {
    if expected == got { Ok(()) } else { Err(StatsError::Length { what, expected, got }) }
}
