//! The Atlas snapshot file a server starts from: what it reads back equals a fresh load from the
//! store, every part of it; a store written after the file was made is served from the file with
//! the changes logged since applied, equal to a fresh load; another store's file, and a file cut
//! short or changed, are refused (the Atlas is loaded from the store and the file written anew).

use crate::common::{Backend, Fixture};
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::{Atlas, AtlasInput};
use rentgrid_server::atlas_file::{AtlasFile, AtlasFileError};
use rentgrid_server::startup::{self, AtlasOrigin};
use rentgrid_server::store::changes::Parts;
use rentgrid_server::store::{AuditEvent, NewVisit, Store};
use time::OffsetDateTime;

on_both_stores!(
    a_snapshot_reads_back_as_a_fresh_load,
    a_store_written_after_the_snapshot_starts_from_it_and_catches_up,
    another_stores_snapshot_is_refused,
    a_cut_or_changed_snapshot_is_refused_and_written_anew
);

/// Loads the Atlas through `file`, waits for the file to be written when it is, and says where
/// the Atlas came from.
async fn start(store: &dyn Store, file: &AtlasFile) -> ((Atlas, i64), Result<(), Option<AtlasFileError>>) {
    let (loaded, origin) = startup::load_atlas_from(store, Some(file.clone())).await.unwrap();
    let from = match origin {
        AtlasOrigin::SnapshotFile { .. } => Ok(()),
        AtlasOrigin::Store { refused, writing } => {
            writing.expect("the file is written anew").await.unwrap().unwrap();
            Err(refused)
        }
    };
    (loaded, from)
}

/// The Atlas input `store` holds now, read afresh.
async fn fresh(store: &dyn Store) -> AtlasInput {
    store.load(Parts { atlas: true, inputs: false }).await.unwrap().atlas.unwrap()
}

/// Every part of two Atlases is equal: the input they were built from, what was derived from it
/// and the data version.
fn assert_same(a: &Atlas, b: &Atlas) {
    assert_eq!(a.version(), b.version());
    assert_eq!(a.district(), b.district());
    assert_eq!(a.bbox(), b.bbox());
    assert_eq!(a.streets().len(), b.streets().len());
    for (x, y) in a.streets().iter().zip(b.streets()) {
        assert_eq!((&x.street, &x.communities, &x.grids), (&y.street, &y.communities, &y.grids));
    }
    for (x, y) in a.communities().iter().zip(b.communities()) {
        assert_eq!((&x.community, x.street, &x.grids), (&y.community, y.street, &y.grids));
    }
    assert_eq!(a.grids().len(), b.grids().len());
    for (x, y) in a.grids().iter().zip(b.grids()) {
        assert_eq!(x.grid, y.grid);
        assert_eq!(
            (x.community, x.street, &x.buildings, &x.neighbours),
            (y.community, y.street, &y.buildings, &y.neighbours)
        );
        assert_eq!((x.area_km2, x.label_point), (y.area_km2, y.label_point));
    }
    assert_eq!(a.blocks(), b.blocks());
    assert_eq!(a.roads(), b.roads());
    assert_eq!(a.buildings(), b.buildings());
    for id in 0..a.buildings().len() as u32 {
        assert_eq!(a.building_stats(id), b.building_stats(id), "building {id}");
    }
    assert_eq!(a.workplaces(), b.workplaces());
}

/// The input `atlas` holds, as the file holds it (read back from a file written from it).
fn assert_input_eq(x: &AtlasInput, y: &AtlasInput) {
    assert_eq!(x.district, y.district);
    assert_eq!(x.streets, y.streets);
    assert_eq!(x.communities, y.communities);
    assert_eq!(x.grids, y.grids);
    assert_eq!(x.blocks, y.blocks);
    assert_eq!(x.roads, y.roads);
    assert_eq!(x.buildings, y.buildings);
    assert_eq!(x.building_stats, y.building_stats);
    assert_eq!(x.workplaces, y.workplaces);
}

async fn a_snapshot_reads_back_as_a_fresh_load(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let store = f.store.as_ref();
    let file = AtlasFile::new(f.dir.path().join("a.atlas"));
    let ((first, seq), from) = start(store, &file).await;
    assert!(matches!(from, Err(None)), "no file yet: loaded from the store");
    let ((read, read_seq), from) = start(store, &file).await;
    assert!(from.is_ok(), "the file written is used: {from:?}");
    assert_eq!(read_seq, seq);
    let (fresh_atlas, fresh_seq) = startup::load_atlas_at(store).await.unwrap();
    assert_eq!(read_seq, fresh_seq);
    assert_same(&read, &fresh_atlas);
    assert_same(&first, &fresh_atlas);
    let stamp = store.stamp().await.unwrap();
    assert_input_eq(&file.read(&stamp).unwrap(), &fresh(store).await);
    f.done().await;
}

/// A visit to the first building with a caseworker's note: a write that records a change.
async fn write_a_visit(f: &Fixture) {
    write_a_visit_to(f, 0, "after the snapshot").await;
}

/// A visit to building `building_id` with `notes`.
async fn write_a_visit_to(f: &Fixture, building_id: u32, notes: &str) {
    let v = NewVisit {
        client_id: format!("atlas-file-test: {notes}"),
        building_id,
        caseworker_id: None,
        visited_on: time::macros::date!(2026 - 11 - 30),
        notes: notes.into(),
        register_units: Vec::new(),
        pledge_units: Vec::new(),
        register_persons: Vec::new(),
        new_units: Vec::new(),
        campaign_id: None,
        position: None,
    };
    let mut event = AuditEvent::new(OffsetDateTime::now_utc(), "visit", notes, "ok");
    event.user = Some("test-center".into());
    f.state().record_visit(&v, &event).await.unwrap();
}

async fn a_store_written_after_the_snapshot_starts_from_it_and_catches_up(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let store = f.store.as_ref();
    let file = AtlasFile::new(f.dir.path().join("a.atlas"));
    let ((before, before_seq), _) = start(store, &file).await;
    write_a_visit(&f).await;
    write_a_visit_to(&f, 1, "a second write").await;
    // Read alone, the file is the store as it was, at its change.
    let ((read, read_seq), from) = start(store, &file).await;
    assert!(from.is_ok(), "the file at an earlier change of the log is used: {from:?}");
    assert_eq!(read_seq, before_seq);
    assert_same(&read, &before);
    // A server started from it applies the changes logged since: the store's state now.
    let (state, origin) =
        startup::state_from(f.store.clone(), Targets::default(), None, Some(file.clone())).await.unwrap();
    let AtlasOrigin::SnapshotFile { behind: true, writing: Some(writing) } = origin else {
        panic!("read from the file, behind the store, and written anew: {origin:?}")
    };
    writing.await.unwrap().unwrap();
    let (fresh_atlas, fresh_seq) = startup::load_atlas_at(store).await.unwrap();
    let (caught_up, applied) = state.applied().await;
    assert_eq!(applied, fresh_seq);
    assert!(caught_up.version() > before.version());
    assert_eq!(caught_up.building_stats(0).unwrap().visits, before.building_stats(0).unwrap().visits + 1);
    assert_eq!(caught_up.building_stats(1).unwrap().visits, before.building_stats(1).unwrap().visits + 1);
    assert_same(&caught_up, &fresh_atlas);
    // Written anew, it is the store's state now: used as it is.
    let ((again, again_seq), from) = start(store, &file).await;
    assert!(from.is_ok(), "{from:?}");
    assert_eq!(again_seq, fresh_seq);
    assert_same(&again, &fresh_atlas);
    f.done().await;
}

async fn another_stores_snapshot_is_refused(backend: Backend) {
    // Two stores seeded alike (the same city, the same log), then each written differently.
    let (a, b) = (Fixture::seeded(backend).await, Fixture::seeded(backend).await);
    write_a_visit_to(&a, 0, "a's write").await;
    write_a_visit_to(&b, 1, "b's write").await;
    let file = AtlasFile::new(a.dir.path().join("a.atlas"));
    let (_, from) = start(a.store.as_ref(), &file).await;
    assert!(matches!(from, Err(None)), "{from:?}");
    // b at the same change as a's file, then after it.
    for (step, refusal) in ["at the same change", "after it"].into_iter().enumerate() {
        let ((atlas, _), from) = start(b.store.as_ref(), &file).await;
        match (step, &from) {
            (0, Err(Some(AtlasFileError::OtherHistory))) | (1, Err(Some(AtlasFileError::Stale { .. }))) => {}
            _ => panic!("{refusal}: refused, loaded from the store: {from:?}"),
        }
        let (fresh_atlas, _) = startup::load_atlas_at(b.store.as_ref()).await.unwrap();
        assert_same(&atlas, &fresh_atlas);
        // The file was written anew for b: a refuses it too and writes its own again; b moves on.
        let (_, from) = start(a.store.as_ref(), &file).await;
        assert!(matches!(from, Err(Some(AtlasFileError::OtherHistory | AtlasFileError::Stale { .. }))), "{from:?}");
        write_a_visit_to(&b, 2, "b's second write").await;
    }
    a.done().await;
    b.done().await;
}

async fn a_cut_or_changed_snapshot_is_refused_and_written_anew(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let store = f.store.as_ref();
    let file = AtlasFile::new(f.dir.path().join("a.atlas"));
    let (_, from) = start(store, &file).await;
    assert!(matches!(from, Err(None)), "no file yet: {from:?}");
    let whole = std::fs::read(file.path()).unwrap();
    let (fresh_atlas, _) = startup::load_atlas_at(store).await.unwrap();
    // Cut short (the header whole, the payload not), cut inside the header, empty, one byte of
    // the payload changed, and another file altogether.
    let mut changed = whole.clone();
    let middle = whole.len() - whole.len() / 3;
    changed[middle] ^= 0x20;
    let damaged: [(&str, Vec<u8>); 5] = [
        ("cut short", whole[..whole.len() - 100].to_vec()),
        ("cut in the header", whole[..20].to_vec()),
        ("empty", Vec::new()),
        ("a byte changed", changed),
        ("not a snapshot", b"SQLite format 3\0 and so on".to_vec()),
    ];
    for (what, bytes) in damaged {
        std::fs::write(file.path(), &bytes).unwrap();
        let ((atlas, _), from) = start(store, &file).await;
        assert!(matches!(from, Err(Some(_))), "{what}: refused, loaded from the store: {from:?}");
        assert_same(&atlas, &fresh_atlas);
        assert_eq!(std::fs::read(file.path()).unwrap(), whole, "{what}: written anew");
        let (_, from) = start(store, &file).await;
        assert!(from.is_ok(), "{what}: the file written anew is used: {from:?}");
    }
    f.done().await;
}
