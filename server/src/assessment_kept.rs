//! The month's assessment of every caseworker (`GET /api/assessment` for a scope that sees every
//! caseworker: the command center's table) kept between requests in blocks, one per street, each
//! as its JSON and its gzip piece ([`crate::blocks`]). A visit moves one caseworker's counts,
//! score and area rates and the ranks of their street only: the answer made after it writes and
//! deflates that street's rows again and takes every other street's block as it was. At scale 20
//! (10,743 caseworkers) the answer right after a visit took about 145 ms written and gzipped whole
//! and takes about 70 ms so (`bench/city.sh`, the probe alone; README "Benchmarks").

use crate::background::{self, Priority};
use crate::blocks::{Block, Blocks, Part};
use crate::coverage::AssessmentRow;
use crate::error::AppError;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// One answer: its rows by street, then rank, a block per street.
pub type KeptAssessment = Blocks<AssessmentRow>;

/// The answer of `rows` (by street, then rank) between `head` and `tail`, taking from `kept` each
/// street's block whose rows are the same. CPU-bound.
pub fn make(
    kept: Option<&KeptAssessment>,
    rows: Vec<AssessmentRow>,
    head: Bytes,
    tail: Bytes,
) -> Result<KeptAssessment, serde_json::Error> {
    let by_street: HashMap<&str, &Arc<Block<AssessmentRow>>> = kept
        .map(|k| {
            let blocks = k.blocks().iter();
            blocks.filter_map(|b| Some((b.rows().first()?.assessment.street_code.as_str(), b))).collect()
        })
        .unwrap_or_default();
    let mut parts = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.next() {
        let street = first.assessment.street_code.clone();
        let mut group = vec![first];
        while let Some(row) = rows.next_if(|r| r.assessment.street_code == street) {
            group.push(row);
        }
        let position = parts.len();
        parts.push(Part::of(group, position, by_street.get(street.as_str()).copied()));
    }
    Blocks::new(head, parts, tail)
}

/// The answer kept: the last one made.
#[derive(Debug, Default)]
pub struct AssessmentKept {
    slot: Mutex<Option<Arc<KeptAssessment>>>,
}

impl AssessmentKept {
    /// The answer of `rows` between `head` and `tail`, made from the one kept off the async
    /// runtime, then kept in its place.
    pub async fn answer(
        &self,
        rows: Vec<AssessmentRow>,
        head: Bytes,
        tail: Bytes,
    ) -> Result<Arc<KeptAssessment>, AppError> {
        let kept = self.slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let made = background::run(Priority::Request, move || make(kept.as_deref(), rows, head, tail))
            .await
            .map_err(|e| AppError::Internal(format!("the assessment: {e}")))?
            .map_err(|e| AppError::Internal(format!("the assessment: {e}")))?;
        let made = Arc::new(made);
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(made.clone());
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::coverage::assessment_rows;
    use crate::encoded::tests::gunzip;
    use crate::scope::Scope;
    use rentgrid_analysis::assessment::Activity;
    use rentgrid_analysis::staffing::StaffingRule;
    use rentgrid_geodata::demo::{self, DemoOptions};
    use rentgrid_geodata::{Atlas, AtlasInput, Month};

    #[test]
    fn an_answer_made_from_the_one_kept_equals_one_made_whole_and_writes_the_changed_streets_only() {
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let month = Month { year: 2026, month: 6 };
        let rows = assessment_rows(
            &atlas,
            &city.caseworkers,
            &Activity::default(),
            month,
            &StaffingRule::ningbo(),
            &Scope::everything(),
            None,
        )
        .unwrap();
        let streets = rows.chunk_by(|a, b| a.assessment.street_code == b.assessment.street_code).count();
        assert!(streets > 2, "several streets: {streets}");
        let (head, tail) = (Bytes::from_static(br#"{"month":"2026-06","rows":["#), Bytes::from_static(b"]}"));
        #[derive(serde::Serialize)]
        struct Whole<'a> {
            month: &'a str,
            rows: &'a [AssessmentRow],
        }
        let whole = |rows: &[AssessmentRow]| serde_json::to_vec(&Whole { month: "2026-06", rows }).unwrap();
        let first = make(None, rows.clone(), head.clone(), tail.clone()).unwrap();
        assert_eq!(first.written(), streets, "the first answer is written whole");
        assert_eq!(first.json(), whole(&rows));
        assert_eq!(gunzip(&first.gzip()), whole(&rows));
        // Nothing changed: every block is taken.
        let same = make(Some(&first), rows.clone(), head.clone(), tail.clone()).unwrap();
        assert_eq!((same.written(), same.json()), (0, first.json()));
        // A visit in the first street and one in the last: their blocks only are written again.
        let mut visited = rows.clone();
        visited[0].assessment.inspections += 1;
        visited.last_mut().unwrap().assessment.score += 1.0;
        let next = make(Some(&same), visited.clone(), head.clone(), tail.clone()).unwrap();
        assert_eq!(next.written(), 2);
        assert_eq!(next.json(), whole(&visited));
        assert_eq!(gunzip(&next.gzip()), whole(&visited));
        // A street left out (another scope's rows, a caseworker gone): the rest still joins right.
        let first_street = rows[0].assessment.street_code.clone();
        let fewer: Vec<AssessmentRow> =
            visited.iter().filter(|r| r.assessment.street_code != first_street).cloned().collect();
        let without = make(Some(&next), fewer.clone(), head, tail).unwrap();
        assert_eq!(without.json(), whole(&fewer));
        assert_eq!(gunzip(&without.gzip()), whole(&fewer));
    }
}
