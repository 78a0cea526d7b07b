//! The inputs of the derived views (monthly registrations, candidate evidence, the caseworkers'
//! work per month) kept in memory and changed by each write equal what the store holds, and so
//! do the history, the assessment's activity and the estimate made from them: a random sequence
//! of writes (visits routine and of a campaign, some naming their caseworker, with units and
//! persons registered, pledges and units found; new persons, moves, returns, departures, permit
//! edits, conflicts resolved, a replayed visit, an accepted territory proposal) with fixed seeds,
//! checked against a rebuild from the store at several points and after a restart. A second
//! server on the same store, which only follows the change log, agrees with the writer and with
//! a restart at each point: the same stats, data version and kept inputs.

use crate::common::{Backend, Db, Fixture, as_center, get, get_gzip, post_json};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::assessment::{Activity, Month};
use rentgrid_analysis::candidates::{self, CandidateWeights};
use rentgrid_analysis::history;
use rentgrid_analysis::kpi::{self, Targets};
use rentgrid_analysis::unrecorded::{self, UnrecordedParams};
use rentgrid_geodata::MonthlyRegistrations;
use rentgrid_server::state::AppState;
use rentgrid_server::store::changes::Parts;
use rentgrid_server::store::field::{Departure, Keep, NewResident, PersonDetails, PersonEdit, PersonField};
use rentgrid_server::store::{AuditEvent, NewUnit, NewVisit};
use rentgrid_server::{app, startup};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::{Date, Duration, OffsetDateTime};

on_both_stores!(
    incremental_views_equal_a_rebuild_after_random_writes,
    writes_committed_while_the_inputs_are_read_are_kept_in_them,
    a_read_overtaken_by_an_import_is_not_kept
);

/// The seeds and how many writes each runs.
const RUNS: [(u64, usize); 3] = [(17, 40), (2026, 80), (7, 120)];

/// A check against the store every this many writes.
const CHECK_EVERY: usize = 20;

async fn incremental_views_equal_a_rebuild_after_random_writes(backend: Backend) {
    for (seed, writes) in RUNS {
        let f = Fixture::seeded(backend).await;
        run(&f, seed, writes).await;
        f.done().await;
    }
}

/// The inputs are read from the store without the write lock (a city-sized register takes tens
/// of seconds), so writes are committed while they are read: those writes, a visit with new
/// units and registrations among them, are applied to what was read before it is kept.
async fn writes_committed_while_the_inputs_are_read_are_kept_in_them(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    // A server just started: nothing read yet.
    let state = &startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
    let read = f.store.load(Parts { atlas: false, inputs: true }).await.unwrap();
    let before = read.registrations.clone().unwrap();
    let unit_list = units(&f.db).await;
    let today = rentgrid_geodata::clock::today();
    for (i, (unit, building)) in unit_list.iter().step_by(unit_list.len() / 3).take(3).enumerate() {
        let v = NewVisit {
            client_id: format!("during-read-{i}"),
            building_id: *building,
            caseworker_id: None,
            visited_on: today,
            notes: String::new(),
            register_units: vec![*unit],
            pledge_units: vec![*unit],
            register_persons: Vec::new(),
            new_units: vec![NewUnit {
                label: format!("during-read-{i}"),
                tenants: 2,
                registered: true,
                pledge_signed: true,
            }],
            campaign_id: None,
            position: None,
        };
        state.record_visit(&v, &event("visit")).await.unwrap();
    }
    let kept = state.keep_view_inputs(read).await.unwrap().expect("the read is kept");
    assert!(kept.evidence.visits.iter().any(|v| v.client_id == "during-read-2"), "the last visit is in the evidence");
    let rows: Vec<MonthlyRegistrations> = kept.registrations.rows().copied().collect();
    assert!(rows != before, "the visits' registrations changed what was read");
    assert_kept_equals_rebuilt(&f, state, "after writes committed during the read").await;
    assert_eq!(*state.roster().await.unwrap(), f.store.evidence().await.unwrap().caseworkers, "the kept roster");
    f.done().await;
}

/// An import loads everything again (buildings may move between grids), so inputs read before
/// it cannot be brought up to date change by change: they are not kept, and the next read is.
async fn a_read_overtaken_by_an_import_is_not_kept(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
    let read = f.store.load(Parts { atlas: false, inputs: true }).await.unwrap();
    let router = as_center(app(state.clone()));
    let ledger = "编号,楼栋编号,房号,是否登记,登记日期,租住人数\nDURING-READ-1,1,909,是,2025-06-01,2\n";
    let req = axum::http::Request::post("/api/imports/units")
        .header(axum::http::header::CONTENT_TYPE, "text/csv")
        .body(axum::body::Body::from(ledger))
        .unwrap();
    let (status, done) = crate::common::send(&router, req).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{done}");
    assert_eq!(done["inserted"].as_u64(), Some(1), "{done}");
    assert!(state.keep_view_inputs(read).await.unwrap().is_none(), "a read from before the import was kept");
    assert_kept_equals_rebuilt(&f, &state, "read again after the import").await;
    f.done().await;
}

fn event(action: &str) -> AuditEvent {
    let mut e = AuditEvent::new(OffsetDateTime::now_utc(), action, "incremental test", "ok");
    e.user = Some("test-center".into());
    e
}

/// A person as the writes need them.
struct Person {
    id: u32,
    id_number: String,
    name: String,
    left: bool,
    version: u32,
}

/// Rental units (id, building) and persons, read from the store.
async fn units(db: &Db) -> Vec<(u32, u32)> {
    let ids = db.ints("SELECT CAST(id AS BIGINT) FROM rental_units ORDER BY id").await;
    let buildings = db.ints("SELECT CAST(building_id AS BIGINT) FROM rental_units ORDER BY id").await;
    ids.into_iter().zip(buildings).map(|(u, b)| (u as u32, b as u32)).collect()
}

async fn persons(db: &Db) -> Vec<Person> {
    let order = " FROM persons ORDER BY id";
    let ids = db.ints(&format!("SELECT CAST(id AS BIGINT){order}")).await;
    let numbers = db.texts(&format!("SELECT id_number{order}")).await;
    let names = db.texts(&format!("SELECT name{order}")).await;
    let left = db.ints(&format!("SELECT CAST(CASE WHEN left_on IS NULL THEN 0 ELSE 1 END AS BIGINT){order}")).await;
    let versions = db.ints(&format!("SELECT CAST(version AS BIGINT){order}")).await;
    (0..ids.len())
        .map(|i| Person {
            id: ids[i] as u32,
            id_number: numbers[i].clone(),
            name: names[i].clone(),
            left: left[i] == 1,
            version: versions[i] as u32,
        })
        .collect()
}

/// The first record where `a` and `b` differ, for a readable failure.
fn first_difference(a: &[MonthlyRegistrations], b: &[MonthlyRegistrations]) -> String {
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => format!("kept {x:?}\nstore {y:?}"),
        None => format!("kept {} records, the store {}", a.len(), b.len()),
    }
}

/// The first grid or caseworker whose month's activity differs between `kept` and `rebuilt`.
fn activity_difference(kept: &Activity, rebuilt: &Activity) -> String {
    fn first<K: Ord + Copy + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
        a: &BTreeMap<K, V>,
        b: &BTreeMap<K, V>,
    ) -> Option<String> {
        let keys: BTreeSet<K> = a.keys().chain(b.keys()).copied().collect();
        let k = keys.into_iter().find(|k| a.get(k) != b.get(k))?;
        Some(format!("{k:?}: kept {:?}, store {:?}", a.get(&k), b.get(&k)))
    }
    first(&kept.grids, &rebuilt.grids).or_else(|| first(&kept.work, &rebuilt.work)).unwrap_or_default()
}

/// Asserts that the inputs kept by `state`, and the history and estimate made from them, equal
/// those rebuilt from the store.
async fn assert_kept_equals_rebuilt(f: &Fixture, state: &AppState, when: &str) {
    let inputs = state.view_inputs().await.unwrap();
    let rows = f.store.monthly_registrations().await.unwrap();
    let kept: Vec<MonthlyRegistrations> = inputs.registrations.rows().copied().collect();
    assert!(kept == rows, "{when}: monthly registrations differ: {}", first_difference(&kept, &rows));
    let ev = f.store.evidence().await.unwrap();
    assert_eq!(inputs.evidence.visits.len(), ev.visits.len(), "{when}: routine visits");
    assert_eq!(inputs.evidence.sweeps.len(), ev.sweeps.len(), "{when}: sweep visits");
    assert_eq!(inputs.evidence.caseworkers, ev.caseworkers, "{when}: the roster");
    assert_eq!(*state.roster().await.unwrap(), ev.caseworkers, "{when}: the roster kept for scopes");
    assert!(*inputs.evidence == ev, "{when}: evidence differs");

    let snapshot = state.snapshot();
    let atlas = snapshot.atlas();
    let made = state.history(&snapshot).await.unwrap();
    let rebuilt = history::monthly_history(atlas, &kpi::grid_counts(atlas), &rows, history::DEFAULT_MONTHS);
    assert_eq!(made.months, rebuilt.months, "{when}: history months");
    assert!(*made == rebuilt, "{when}: history counts differ");

    // The assessment's activity of the latest months (those the writes are dated in), from
    // the ledger's totals and the work kept, against the month's records read from the store.
    let months: BTreeSet<Month> = rows
        .iter()
        .map(|r| Month { year: r.month.year, month: r.month.month })
        .chain(inputs.work.keys().map(|(m, _)| *m))
        .collect();
    for &m in months.iter().rev().take(6) {
        let read = f.store.month_activity(m.into()).await.unwrap();
        let rebuilt = Activity::of_records(
            atlas,
            &read.persons,
            &read.rental_units,
            &read.cancellations,
            &read.visits,
            &read.spot_checks,
        );
        assert!(rebuilt.grids.len() + rebuilt.work.len() > 0, "{when}: {m:?} has activity");
        let kept = inputs.activity(m);
        assert!(kept == rebuilt, "{when}: the activity of {m:?} differs: {}", activity_difference(&kept, &rebuilt));
    }

    let estimate = state.estimate(atlas).await.unwrap();
    let evidence = ev.as_of(estimate.as_of);
    let candidates = candidates::estimate(atlas, &evidence, &CandidateWeights::default()).unwrap();
    assert!(estimate.candidates == candidates, "{when}: candidate estimate differs");
    let params = UnrecordedParams { weights: CandidateWeights::default(), ..UnrecordedParams::default() };
    let unrecorded = unrecorded::estimate_with(atlas, &evidence, &candidates, &params).unwrap();
    assert!(*estimate.unrecorded == unrecorded, "{when}: unrecorded estimate differs");
    assert_eq!(estimate.caseworkers, ev.caseworkers, "{when}: the estimate's roster");
}

/// Asserts that `follower`, a second server on the store that only follows the change log, has
/// caught up with `writer`: the same stats at every level and data version as the writer's (and,
/// with `restart`, as a server started now), and its kept inputs equal to a rebuild.
async fn assert_follower_agrees(f: &Fixture, writer: &AppState, follower: &AppState, when: &str, restart: bool) {
    follower.catch_up().await.unwrap();
    let mut states = vec![writer.clone(), follower.clone()];
    if restart {
        states.push(startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap());
    }
    let versions: Vec<u64> = states.iter().map(|s| s.atlas().version()).collect();
    assert!(
        versions.iter().all(|v| *v == versions[0]),
        "{when}: data versions (writer, follower, restart) {versions:?}"
    );
    let routers: Vec<_> = states.into_iter().map(|s| as_center(app(s))).collect();
    for level in ["grid", "community", "street", "district"] {
        let uri = format!("/api/stats?level={level}");
        let written = get(&routers[0], &uri).await;
        assert!(written.0.is_success(), "{when}: {uri}: {}", written.1);
        for (router, who) in routers[1..].iter().zip(["the follower", "a restart"]) {
            assert!(get(router, &uri).await == written, "{when}: {uri}: {who}'s stats differ from the writer's");
        }
        // Every grid's stats are kept between writes and joined from blocks, gzipped as kept.
        let (status, gzipped, was) = get_gzip(&routers[0], &uri).await;
        assert!(status == written.0 && gzipped == written.1, "{when}: {uri}: the writer's gzipped stats differ");
        assert!(was || level != "grid", "{when}: {uri}: every grid's stats come gzipped");
    }
    // The month's assessment of every caseworker, kept between writes in blocks per street (the
    // writer's made from the one it answered at the last check): the same as the follower's and
    // a restart's (made whole), and gzipped as kept.
    let today = rentgrid_geodata::clock::today();
    let uri = format!("/api/assessment?month={:04}-{:02}", today.year(), u8::from(today.month()));
    let written = get(&routers[0], &uri).await;
    assert!(
        written.0.is_success() && !written.1["rows"].as_array().unwrap().is_empty(),
        "{when}: {uri}: {}",
        written.1
    );
    for (router, who) in routers[1..].iter().zip(["the follower", "a restart"]) {
        assert!(get(router, &uri).await == written, "{when}: {uri}: {who}'s assessment differs from the writer's");
    }
    let (status, gzipped, was) = get_gzip(&routers[0], &uri).await;
    assert!(
        status == written.0 && gzipped == written.1 && was,
        "{when}: {uri}: the writer's gzipped assessment differs"
    );
    assert_kept_equals_rebuilt(f, follower, &format!("{when}, the follower")).await;
}

/// A territory proposal for the street with the largest team, made through the API.
async fn proposal(f: &Fixture) -> Option<i64> {
    let (_, cov) = get(&f.router, "/api/coverage").await;
    let mut team: BTreeMap<String, usize> = BTreeMap::new();
    for a in cov["features"].as_array()?.iter().filter(|x| x["properties"]["kind"] == "area") {
        *team.entry(a["properties"]["street_code"].as_str()?.to_owned()).or_default() += 1;
    }
    let (code, _) = team.iter().max_by_key(|(_, n)| **n)?;
    let (_, made) = post_json(&f.router, "/api/territory/proposals", &json!({ "street": code }).to_string()).await;
    made["id"].as_i64()
}

/// A campaign over the weakest grid, planned through the API; its id and buildings.
async fn campaign(f: &Fixture, start: Date) -> (u32, Vec<u32>) {
    let grids = crate::campaigns::weakest_grids(&f.router).await;
    let start = rentgrid_server::store::dates::fmt_date(start);
    let c = crate::campaigns::campaign(&f.router, &f.db, &grids[..1], &start).await;
    let id = c["id"].as_u64().unwrap() as u32;
    let buildings =
        f.db.ints(&format!("SELECT CAST(building_id AS BIGINT) FROM campaign_buildings WHERE campaign_id = {id}"))
            .await;
    (id, buildings.into_iter().map(|b| b as u32).collect())
}

async fn run(f: &Fixture, seed: u64, writes: usize) {
    let state = f.state();
    let follower = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let today = rentgrid_geodata::clock::today();
    let mut day = today - Duration::days(2 * writes as i64);
    // Read the inputs before the first write, so that every write below changes them.
    assert_kept_equals_rebuilt(f, state, &format!("seed {seed}, before any write")).await;
    assert_follower_agrees(f, state, &follower, &format!("seed {seed}, before any write"), false).await;
    let generation = state.view_inputs().await.unwrap().generation;
    let roster = state.roster().await.unwrap();
    let (campaign, campaign_buildings) = campaign(f, day).await;
    let proposal = proposal(f).await;
    let mut visits: Vec<NewVisit> = Vec::new();
    let mut conflicts = 0;
    for i in 0..writes {
        day = (day + Duration::days(rng.random_range(0..=2))).min(today);
        let client_id = format!("inc-{seed}-{i}");
        let unit_list = units(&f.db).await;
        let people = persons(&f.db).await;
        let by_building: HashMap<u32, Vec<u32>> = unit_list.iter().fold(HashMap::new(), |mut m, (u, b)| {
            m.entry(*b).or_default().push(*u);
            m
        });
        let roll = rng.random_range(0..100);
        let result = match roll {
            // A visit, routine or of the campaign.
            0..=39 => {
                let sweep = roll < 10 && !campaign_buildings.is_empty();
                let building = if sweep {
                    *campaign_buildings.choose(&mut rng).unwrap()
                } else {
                    unit_list.choose(&mut rng).unwrap().1
                };
                let here = by_building.get(&building).cloned().unwrap_or_default();
                let pick = |rng: &mut ChaCha8Rng, from: &[u32]| -> Vec<u32> {
                    from.iter().copied().filter(|_| rng.random_bool(0.4)).take(3).collect()
                };
                let register_units = pick(&mut rng, &here);
                let pledge_units = register_units.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
                let in_building = f
                    .db
                    .ints(&format!("SELECT CAST(id AS BIGINT) FROM persons WHERE building_id = {building} ORDER BY id"))
                    .await
                    .into_iter()
                    .map(|p| p as u32)
                    .collect::<Vec<_>>();
                let register_persons = pick(&mut rng, &in_building);
                let new_units = (0..rng.random_range(0..=2))
                    .map(|k| {
                        let registered = rng.random_bool(0.5);
                        NewUnit {
                            label: format!("{client_id}-{k}"),
                            tenants: rng.random_range(0..4),
                            registered,
                            pledge_signed: registered && rng.random_bool(0.5),
                        }
                    })
                    .collect();
                // Half the visits name their caseworker: the assessment counts those.
                let caseworker = rng.random_bool(0.5).then(|| roster.choose(&mut rng).map(|c| c.id)).flatten();
                let v = NewVisit {
                    client_id: client_id.clone(),
                    building_id: building,
                    caseworker_id: caseworker,
                    visited_on: day,
                    notes: String::new(),
                    register_units,
                    pledge_units,
                    register_persons,
                    new_units,
                    campaign_id: sweep.then_some(campaign),
                    position: None,
                };
                let done = state.record_visit(&v, &event("visit")).await.map(|_| ());
                visits.push(v);
                done
            }
            // The same visit sent again: a replay changes nothing.
            40..=42 if !visits.is_empty() => {
                let v = visits.choose(&mut rng).unwrap().clone();
                state.record_visit(&v, &event("visit")).await.map(|_| ())
            }
            // A new person, or a known one moving in or coming back.
            40..=69 => {
                let (unit, _) = *unit_list.choose(&mut rng).unwrap();
                let known = if roll < 55 { None } else { people.choose(&mut rng) };
                let (id_number, name) = match known {
                    Some(p) => (p.id_number.clone(), p.name.clone()),
                    None => (format!("T{seed}X{i:06}"), format!("测试{i}")),
                };
                let r = NewResident {
                    client_id,
                    unit_id: unit,
                    card_no: None,
                    id_number,
                    details: PersonDetails {
                        name,
                        phone: "13800000000".into(),
                        origin: None,
                        workplace_id: None,
                        permit: rng.random_bool(0.5),
                    },
                    moved_in_on: day,
                    position: None,
                };
                state.add_resident(&r, &event("resident")).await.map(|_| ())
            }
            // A departure from the district.
            70..=79 => {
                let present: Vec<&Person> = people.iter().filter(|p| !p.left).collect();
                let p = present.choose(&mut rng).unwrap();
                let d = Departure { client_id, person_id: p.id, on: day, position: None };
                state.depart(&d, &event("departure")).await.map(|_| ())
            }
            // A permit changed (sometimes with the name).
            80..=91 => {
                let p = people.choose(&mut rng).unwrap();
                let mut changes = BTreeMap::from([(PersonField::Permit, Value::Bool(rng.random_bool(0.5)))]);
                if rng.random_bool(0.3) {
                    changes.insert(PersonField::Name, Value::String(format!("{}改", p.name)));
                }
                let e = PersonEdit { client_id, person_id: p.id, base_version: p.version, changes, position: None };
                state.edit_person(&e, &event("edit")).await.map(|_| ())
            }
            // Two offline edits of the same permit: the second is a conflict, then resolved.
            _ => {
                let p = people.iter().filter(|p| !p.left).collect::<Vec<_>>();
                let p = p.choose(&mut rng).unwrap();
                let permit = rng.random_bool(0.5);
                let edit = |n: u32, permit: bool| PersonEdit {
                    client_id: format!("{client_id}-{n}"),
                    person_id: p.id,
                    base_version: p.version,
                    changes: BTreeMap::from([(PersonField::Permit, Value::Bool(permit))]),
                    position: None,
                };
                state.edit_person(&edit(1, permit), &event("edit")).await.unwrap();
                let second = state.edit_person(&edit(2, !permit), &event("edit")).await.unwrap();
                match second.outcome {
                    rentgrid_server::store::field::EditOutcome::Conflict { conflict_id, .. } => {
                        conflicts += 1;
                        let keep = if rng.random_bool(0.7) { Keep::Mine } else { Keep::Theirs };
                        state.resolve_conflict(conflict_id, keep, &event("resolve")).await.map(|_| ())
                    }
                    // The first edit found the permit as it asked: nothing to conflict with.
                    _ => Ok(()),
                }
            }
        };
        // A refused write (a departure before the move in, a pledge for a unit not registered)
        // changes nothing; the checks below see that too.
        if let Err(e) = result {
            let e = e.to_string();
            assert!(!e.contains("database"), "seed {seed}, write {i}: {e}");
        }
        if i == writes / 2
            && let Some(id) = proposal
        {
            let (s, done) = post_json(
                &f.router,
                &format!("/api/territory/proposals/{id}/accept"),
                &json!({ "by": "王主任" }).to_string(),
            )
            .await;
            assert!(s.is_success(), "seed {seed}: the proposal is accepted: {done}");
        }
        if (i + 1) % CHECK_EVERY == 0 {
            let when = format!("seed {seed}, after write {}", i + 1);
            assert_kept_equals_rebuilt(f, state, &when).await;
            assert_follower_agrees(f, state, &follower, &when, false).await;
        }
    }
    assert_kept_equals_rebuilt(f, state, &format!("seed {seed}, after {writes} writes")).await;
    assert_follower_agrees(f, state, &follower, &format!("seed {seed}, after {writes} writes"), true).await;
    assert!(
        state.view_inputs().await.unwrap().generation > generation,
        "seed {seed}: the writes changed the kept inputs"
    );
    assert!(proposal.is_some(), "seed {seed}: a territory proposal was made");
    assert!(conflicts > 0 || writes < 50, "seed {seed}: some edits were conflicts");

    // A server started now from the store makes the same history and estimate.
    let fresh = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
    let (kept_snapshot, fresh_snapshot) = (state.snapshot(), fresh.snapshot());
    let (kept_atlas, fresh_atlas) = (kept_snapshot.atlas(), fresh_snapshot.atlas());
    let kept = state.history(&kept_snapshot).await.unwrap();
    let restarted = fresh.history(&fresh_snapshot).await.unwrap();
    assert!(*kept == *restarted, "seed {seed}: the history equals a restart's");
    let kept = state.estimate(kept_atlas).await.unwrap();
    let restarted = fresh.estimate(fresh_atlas).await.unwrap();
    assert!(kept.candidates == restarted.candidates, "seed {seed}: the candidates equal a restart's");
    assert!(*kept.unrecorded == *restarted.unrecorded, "seed {seed}: the unrecorded estimate equals a restart's");
}
