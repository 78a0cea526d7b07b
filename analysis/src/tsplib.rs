//! A reader of TSPLIB95 symmetric TSP files with `EUC_2D` coordinates, the instances the tour
//! solver's quality is measured on (`analysis/tests/data/tsplib/`).
//!
//! Only what those instances use is read: the `NAME`, `TYPE` (`TSP`), `DIMENSION` and
//! `EDGE_WEIGHT_TYPE` (`EUC_2D`) keywords and the `NODE_COORD_SECTION`; anything else is an
//! error, never a silent guess. Distances follow TSPLIB: `nint(sqrt(dx² + dy²))`.

use crate::tour::{DistanceMatrix, TourResult};
use thiserror::Error;

/// What can be wrong with a TSPLIB file.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TsplibError {
    /// A keyword's value is not supported (another problem type or distance function).
    #[error("line {line}: {key} = {value} is not supported (only TYPE TSP with EDGE_WEIGHT_TYPE EUC_2D)")]
    Unsupported {
        /// 1-based line number.
        line: usize,
        /// The keyword.
        key: String,
        /// Its value.
        value: String,
    },
    /// A line that cannot be read.
    #[error("line {line}: cannot read {text:?}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A required keyword is missing.
    #[error("the file has no {0}")]
    Missing(&'static str),
    /// The coordinate section does not list nodes 1..=DIMENSION once each.
    #[error("expected {expected} nodes numbered 1..={expected}, got {got}")]
    Nodes {
        /// DIMENSION.
        expected: usize,
        /// Nodes read.
        got: usize,
    },
}

/// A TSPLIB `EUC_2D` instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Its `NAME`.
    pub name: String,
    /// Node coordinates, node `i + 1` of the file at index `i`.
    pub coords: Vec<(f64, f64)>,
}

impl Instance {
    /// Parses the text of a `.tsp` file.
    pub fn parse(text: &str) -> Result<Instance, TsplibError> {
        let mut name = String::new();
        let mut dimension: Option<usize> = None;
        let mut euc_2d = false;
        let mut coords: Vec<Option<(f64, f64)>> = Vec::new();
        let mut in_coords = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let t = raw.trim();
            if t.is_empty() {
                continue;
            }
            if t == "EOF" {
                break;
            }
            let syntax = |reason| TsplibError::Syntax { line, text: raw.to_string(), reason };
            if in_coords && t.starts_with(|c: char| c.is_ascii_digit()) {
                let dim = dimension.ok_or(TsplibError::Missing("DIMENSION before NODE_COORD_SECTION"))?;
                let mut f = t.split_whitespace();
                let (Some(id), Some(x), Some(y), None) = (f.next(), f.next(), f.next(), f.next()) else {
                    return Err(syntax("a node line is `id x y`"));
                };
                let id: usize = id.parse().map_err(|_| syntax("the node id is not a whole number"))?;
                let (Ok(x), Ok(y)) = (x.parse::<f64>(), y.parse::<f64>()) else {
                    return Err(syntax("a coordinate is not a number"));
                };
                if !x.is_finite() || !y.is_finite() {
                    return Err(syntax("a coordinate is not finite"));
                }
                if id == 0 || id > dim {
                    return Err(syntax("the node id is outside 1..=DIMENSION"));
                }
                if coords[id - 1].replace((x, y)).is_some() {
                    return Err(syntax("the node id appears twice"));
                }
                continue;
            }
            in_coords = false;
            if t == "NODE_COORD_SECTION" {
                if !euc_2d {
                    return Err(TsplibError::Missing("EDGE_WEIGHT_TYPE: EUC_2D before NODE_COORD_SECTION"));
                }
                in_coords = true;
                continue;
            }
            let Some((key, value)) = t.split_once(':') else {
                return Err(syntax("expected `KEY : value` or a section name"));
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "NAME" => name = value.to_string(),
                "COMMENT" => {}
                "TYPE" if value == "TSP" => {}
                "EDGE_WEIGHT_TYPE" if value == "EUC_2D" => euc_2d = true,
                "DIMENSION" => {
                    let d: usize = value.parse().map_err(|_| syntax("DIMENSION is not a whole number"))?;
                    dimension = Some(d);
                    coords = vec![None; d];
                }
                _ => return Err(TsplibError::Unsupported { line, key: key.to_string(), value: value.to_string() }),
            }
        }
        let expected = dimension.ok_or(TsplibError::Missing("DIMENSION"))?;
        let got = coords.iter().filter(|c| c.is_some()).count();
        if got != expected || expected == 0 {
            return Err(TsplibError::Nodes { expected, got });
        }
        Ok(Instance { name, coords: coords.into_iter().flatten().collect() })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.coords.len()
    }

    /// True when there are no nodes (never, for a parsed instance).
    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }

    /// The TSPLIB `EUC_2D` distance between nodes `i` and `j` (0-based): the Euclidean distance
    /// rounded to the nearest integer.
    pub fn distance(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (self.coords[i], self.coords[j]);
        ((a.0 - b.0).hypot(a.1 - b.1) + 0.5).floor()
    }

    /// The full distance matrix.
    pub fn matrix(&self) -> TourResult<DistanceMatrix> {
        DistanceMatrix::from_fn(self.len(), |i, j| self.distance(i, j))
    }
}
