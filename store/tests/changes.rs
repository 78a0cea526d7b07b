//! The change log on both backends: changes recorded with their writes' audit rows are read back
//! in order, each naming the one before it, with the data version each makes; a write rolled
//! back leaves none; pruning leaves a gap a reader sees; a read in one snapshot says the last
//! change it includes; on PostGIS each change wakes a listener, also after its connection was
//! cut.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rentgrid_analysis::view_inputs::InputChange;
use rentgrid_geodata::StatsDelta;
use rentgrid_store::audit::{self, AuditEvent};
use rentgrid_store::backend::{Backend, Tx};
use rentgrid_store::changes::{self, Change, Logged, Mark, Parts};
use rentgrid_store::gpkg::GpkgStore;
use rentgrid_store::testing::TestDatabase;
use rentgrid_store::{AuditLog, ChangeLog, SnapshotReads};
use time::macros::datetime;

fn event(action: &str) -> AuditEvent {
    AuditEvent::new(datetime!(2026-12-03 08:00 UTC), action, "/api/test", "ok").by("center", "center")
}

/// A visit's change: one building's counts.
fn counts(building_id: u32) -> Change {
    let delta = StatsDelta { building_id, visits: 1, ..StatsDelta::default() };
    Change::counts(&[delta], InputChange::default()).unwrap()
}

/// Writes an audit row and `change` in one transaction, as a write does; commits unless told
/// not to. Returns the audit row's place.
async fn write(db: &dyn Backend, change: &Change, commit: bool) -> i64 {
    let mut tx = audit::begin(db).await.unwrap();
    let row = audit::append(&mut tx, &event("visit_record")).await.unwrap();
    changes::record(&mut tx, &row, change).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
    row.entry.seq
}

/// The scenario, on one store.
async fn scenario<S: ChangeLog + SnapshotReads + AuditLog>(store: &S, db: &dyn Backend) {
    assert_eq!(store.last_change().await.unwrap(), Mark::default());
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());

    let first = write(db, &counts(3), true).await;
    // Audit rows without a change (a login, a read) between changes.
    store.append_audit(&event("login")).await.unwrap();
    let hazards = write(db, &Change::Hazards { grid: 7 }, true).await;
    write(db, &counts(4), false).await; // rolled back: no audit row, no change
    store.append_audit(&event("person_read")).await.unwrap();
    let reload = write(db, &Change::Reload, true).await;

    let log = store.changes_after(0, 10).await.unwrap();
    let expected = [
        Logged { seq: first, prev: 0, version: 1, change: counts(3) },
        Logged { seq: hazards, prev: first, version: 1, change: Change::Hazards { grid: 7 } },
        Logged { seq: reload, prev: hazards, version: 2, change: Change::Reload },
    ];
    assert_eq!(log, expected);
    assert_eq!((first, hazards, reload), (1, 3, 5), "each change at its audit row's place");
    assert_eq!(store.changes_after(first, 1).await.unwrap(), expected[1..2]);
    assert!(store.changes_after(reload, 10).await.unwrap().is_empty());
    assert_eq!(store.last_change().await.unwrap(), Mark { seq: reload, version: 2 });

    // A read in one snapshot says the last change it includes (a store with no district yet
    // has empty inputs and no Atlas).
    let loaded = store.load(Parts { atlas: false, inputs: true }).await.unwrap();
    assert_eq!(loaded.mark, Mark { seq: reload, version: 2 });
    assert_eq!(loaded.registrations.as_deref(), Some(&[][..]));
    assert!(loaded.atlas.is_none());

    // Pruned to the last two: a reader that applied nothing finds the first change it reads
    // follows one it never saw, and loads everything again.
    let mut tx = Tx::begin(db).await.unwrap();
    assert_eq!(changes::prune(&mut tx, 2).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let after_pruning = store.changes_after(0, 10).await.unwrap();
    assert_eq!(after_pruning, expected[1..]);
    assert_ne!(after_pruning[0].prev, 0, "a gap for a reader at 0");
    assert_eq!(store.changes_after(first, 10).await.unwrap(), expected[1..], "no gap for a reader at {first}");

    assert_eq!(store.verify_audit().await.unwrap(), Ok(5), "the audit chain is whole");
}

#[tokio::test]
async fn the_geopackage_logs_changes_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open(dir.path()).await.unwrap();
    scenario(&store, store.backend()).await;
    assert!(store.listen().await.unwrap().is_none(), "one server per GeoPackage: nothing to listen to");
    store.backend().close().await;
}

#[tokio::test]
async fn postgis_logs_changes_in_commit_order_and_announces_each() {
    let (db, store) = TestDatabase::create(true).await.unwrap_or_else(|e| panic!("{e}"));
    let mut wakeups = store.listen().await.unwrap().expect("PostGIS announces changes");
    scenario(&store, store.backend()).await;
    // The three committed changes, in order (the rolled-back one was never announced).
    for seq in [1, 3, 5] {
        assert_eq!(wakeups.next().await.unwrap(), Some(seq));
    }

    // The listening connection cut (as a restart or a network fault would): the next wait says
    // so, having listened again, and the next change is announced.
    let cut: Vec<i32> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE 'LISTEN%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(cut, [1], "one listening connection");
    assert_eq!(wakeups.next().await.unwrap(), None, "the cut is told");
    let seq = write(store.backend(), &counts(5), true).await;
    assert_eq!(wakeups.next().await.unwrap(), Some(seq));

    // Each server's connections carry a name of their own in pg_stat_activity.
    let names: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(names, [format!("rentgrid {}", std::process::id())]);
    drop(wakeups);
    store.backend().close().await;
    db.drop_database().await;
}
