//! The Atlas snapshot file a server starts from: what it reads back equals a fresh load from the
//! store, every part of it; a store written after the file was made, and a file cut short or
//! changed, are refused (the Atlas is loaded from the store and the file written anew).

use crate::common::{Backend, Fixture};
use rentgrid_geodata::{Atlas, AtlasInput};
use rentgrid_server::atlas_file::{AtlasFile, AtlasFileError};
use rentgrid_server::startup::{self, AtlasOrigin};
use rentgrid_server::store::changes::Parts;
use rentgrid_server::store::{AuditEvent, NewVisit, Store};
use time::OffsetDateTime;

on_both_stores!(
    a_snapshot_reads_back_as_a_fresh_load,
    a_store_written_after_the_snapshot_is_not_served_from_it,
    a_cut_or_changed_snapshot_is_refused_and_written_anew
);

/// Loads the Atlas through `file`, waits for the file to be written when it is, and says where
/// the Atlas came from.
async fn start(store: &dyn Store, file: &AtlasFile) -> ((Atlas, i64), Result<(), Option<AtlasFileError>>) {
    let (loaded, origin) = startup::load_atlas_from(store, Some(file.clone())).await.unwrap();
    let from = match origin {
        AtlasOrigin::SnapshotFile => Ok(()),
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
    let v = NewVisit {
        client_id: "atlas-file-test".into(),
        building_id: 0,
        caseworker_id: None,
        visited_on: time::macros::date!(2026 - 11 - 30),
        notes: "after the snapshot".into(),
        register_units: Vec::new(),
        pledge_units: Vec::new(),
        register_persons: Vec::new(),
        new_units: Vec::new(),
        campaign_id: None,
        position: None,
    };
    let mut event = AuditEvent::new(OffsetDateTime::now_utc(), "visit", "atlas file test", "ok");
    event.user = Some("test-center".into());
    f.state().record_visit(&v, &event).await.unwrap();
}

async fn a_store_written_after_the_snapshot_is_not_served_from_it(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let store = f.store.as_ref();
    let file = AtlasFile::new(f.dir.path().join("a.atlas"));
    let ((before, _), _) = start(store, &file).await;
    write_a_visit(&f).await;
    let ((after, seq), from) = start(store, &file).await;
    assert!(matches!(from, Err(Some(AtlasFileError::Stale { .. }))), "the stale file is refused: {from:?}");
    assert!(after.version() > before.version());
    assert_eq!(after.building_stats(0).unwrap().visits, before.building_stats(0).unwrap().visits + 1);
    let (fresh_atlas, fresh_seq) = startup::load_atlas_at(store).await.unwrap();
    assert_eq!(seq, fresh_seq);
    assert_same(&after, &fresh_atlas);
    // Written anew, it is the store's state again and is used.
    let ((again, _), from) = start(store, &file).await;
    assert!(from.is_ok(), "{from:?}");
    assert_same(&again, &fresh_atlas);
    f.done().await;
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
