//! `rentgrid import units` on both stores, through the real binary: bad ledgers are refused
//! whole with every bad row named, malformed files get a clear error, a re-import updates
//! instead of duplicating, and an import killed with SIGKILL in the middle of writing leaves the
//! store exactly as it was. Each import that wrote is one audit row, attributed to the command
//! line.

use rentgrid_geodata::atlas::BuildingStats;
use rentgrid_server::startup::{self, StoreLocation};
use rentgrid_server::store::testing::TestDatabase;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rentgrid");

/// A small demo city in a fresh store of either kind.
struct Store {
    _dir: tempfile::TempDir,
    args: Vec<String>,
    at: StoreLocation,
    pg: Option<TestDatabase>,
    rt: tokio::runtime::Runtime,
}

impl Store {
    fn new(postgis: bool) -> Store {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (args, at, pg) = if postgis {
            let (db, _) = rt.block_on(TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}"));
            (vec!["--database-url".to_string(), db.url.clone()], StoreLocation::Postgis(db.url.clone()), Some(db))
        } else {
            let data = dir.path().join("data");
            (vec!["--data".to_string(), data.display().to_string()], StoreLocation::Sqlite(data), None)
        };
        let s = Store { _dir: dir, args, at, pg, rt };
        let out = s.run(&["demo", "--scale", "0.05"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        s
    }

    /// An embedded store in `data`, as it is (none yet, or one restored there).
    fn at(data: std::path::PathBuf) -> Store {
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["--data".to_string(), data.display().to_string()];
        Store {
            _dir: dir,
            args,
            at: StoreLocation::Sqlite(data),
            pg: None,
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(args).args(&self.args).output().unwrap()
    }

    /// `rentgrid import units FILE` started, its progress on a pipe.
    fn import_in_background(&self, path: &str) -> std::process::Child {
        Command::new(BIN)
            .args(["import", "units", path])
            .args(&self.args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Everything the register counts, per building.
    fn stats(&self) -> Vec<BuildingStats> {
        self.rt.block_on(async {
            let store = startup::open_store(&self.at, false).await.unwrap();
            store.load_atlas_input().await.unwrap().building_stats
        })
    }

    /// The audit rows of imports, and whether the whole chain verifies.
    fn imports_audited(&self) -> (Vec<rentgrid_server::store::AuditEvent>, bool) {
        self.rt.block_on(async {
            let store = startup::open_store(&self.at, false).await.unwrap();
            let q = rentgrid_server::store::audit::AuditQuery {
                action: Some("import".into()),
                ..rentgrid_server::store::audit::AuditQuery::page(0, 100)
            };
            let rows = store.audit_query(&q).await.unwrap().into_iter().map(|r| r.entry.event).collect();
            (rows, store.verify_audit().await.unwrap().is_ok())
        })
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self._dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    fn done(self) {
        if let Some(db) = self.pg {
            self.rt.block_on(db.drop_database());
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn refused_without_panic(o: &Output, hint: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(e.contains(hint), "stderr does not mention {hint:?}: {e}");
}

fn bad_ledgers_are_refused_whole(postgis: bool) {
    let s = Store::new(postgis);
    let before = s.stats();
    let ledger = "编号,楼栋编号,房号,房东姓名,房东身份证号,是否登记,登记日期,保证书,租住人数\n\
                  A-1,1,101,王伟,11010519491231002X,是,2025-03-01,是,2\n\
                  A-2,2,102,李娜,110105194912310021,是,2025-03-01,否,1\n\
                  A-3,999999,103,,,否,,否,1\n\
                  A-4,3,104,,,否,,是,1\n";
    let path = s.file("ledger.csv", ledger.as_bytes());
    let out = s.run(&["import", "units", &path]);
    refused_without_panic(&out, "nothing was imported: 3 of 4 rows");
    let e = stderr(&out);
    assert!(e.contains("row 3, column 房东身份证号: the check digit is 1, expected X"), "{e}");
    assert!(e.contains("row 4, column 楼栋编号: building \"999999\" does not exist"), "{e}");
    assert!(e.contains("row 5, column 保证书"), "{e}");
    assert_eq!(s.stats(), before, "a refused import changed the store");

    // The good row alone, then again: one unit, updated the second time.
    let out = s.run(&["import", "units", &path, "--skip-invalid"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 new, 0 updated, 1 landlords added; 3 bad rows skipped"), "{}", stderr(&out));
    let once = s.stats();
    assert_eq!(once[1].rental_units, before[1].rental_units + 1);
    assert_eq!(once[1].pledges_signed, before[1].pledges_signed + 1);
    let out = s.run(&["import", "units", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("0 new, 1 updated, 0 landlords added"), "{}", stderr(&out));
    assert_eq!(s.stats(), once, "a re-import duplicated or changed the unit");
    // The two imports that wrote are one audit row each, by the command line; the refused none.
    let (rows, intact) = s.imports_audited();
    assert!(intact, "the audit chain is broken");
    let wrote: Vec<(&str, Option<&str>, Option<&str>)> =
        rows.iter().map(|e| (e.outcome.as_str(), e.source.as_deref(), e.user.as_deref())).collect();
    assert_eq!(wrote, [("ok", Some("cli"), None), ("ok", Some("cli"), None)]);
    assert!(
        rows[0].target.starts_with("rentgrid import units ")
            && rows[0].target.ends_with("1 new, 0 updated, 1 landlords added"),
        "{:?}",
        rows[0]
    );
    assert!(rows[1].target.ends_with("0 new, 1 updated"), "{:?}", rows[1]);
    s.done();
}

fn malformed_files_get_clear_errors(postgis: bool) {
    let s = Store::new(postgis);
    let before = s.stats();
    let (gbk, _, _) = encoding_rs::GBK.encode("编号,楼栋编号,房号\nA-1,1,三楼\n");
    let mut huge = b"external_id,building_id,label\nA-1,1,".to_vec();
    huge.extend(std::iter::repeat_n(b'9', 100 * 1024 * 1024));
    huge.push(b'\n');
    let cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        ("empty.csv", vec![], vec![], "the file is empty"),
        ("header.csv", "编号,楼栋编号,房号\n".into(), vec![], "no data rows"),
        ("binary.csv", vec![0xFF, 0xFE, 0x00, 0x81, 0x30, 0x00, 0xD8], vec![], "neither UTF-8 nor GBK"),
        ("gbk.csv", gbk.to_vec(), vec!["--encoding", "utf-8"], "not valid UTF-8"),
        ("columns.csv", "名称,地址\nx,y\n".into(), vec![], "missing column(s): 编号"),
        ("huge.csv", huge, vec![], "row 2 is"),
        ("coords.csv", "编号,经度,纬度,房号\nA-1,abc,29.8,1\nA-2,200,95,2\n".into(), vec![], "2 of 2 rows"),
    ];
    for (name, bytes, flags, hint) in cases {
        let path = s.file(name, &bytes);
        let mut args = vec!["import", "units", path.as_str()];
        args.extend(flags);
        refused_without_panic(&s.run(&args), hint);
    }
    let out = s.run(&["import", "units", "/nonexistent/ledger.csv"]);
    refused_without_panic(&out, "cannot read /nonexistent/ledger.csv");
    assert_eq!(s.stats(), before, "a malformed file changed the store");
    s.done();
}

fn an_import_killed_mid_write_changes_nothing(postgis: bool) {
    let s = Store::new(postgis);
    let before = s.stats();
    let n_buildings = before.len();
    let path = s.file("big.csv", big_ledger(120_000, n_buildings).as_bytes());
    let mut child = s.import_in_background(&path);
    let mut killed_at = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("writing rental units ")
            && let Some((done, total)) = rest.split_once('/')
            && done.parse::<u64>().unwrap() > 0
            && done.parse::<u64>().unwrap() < total.parse::<u64>().unwrap()
        {
            child.kill().unwrap(); // SIGKILL
            killed_at = Some(line.clone());
            break;
        }
    }
    let status = child.wait().unwrap();
    let killed_at = killed_at.expect("the import finished before it could be killed mid-write");
    assert!(!status.success(), "killed at {killed_at:?} but it exited successfully");
    assert_eq!(s.stats(), before, "an import killed at {killed_at:?} left part of itself in the store");
    // The store still works: the same import, run to the end, writes everything.
    let out = s.run(&["import", "units", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after: u32 = s.stats().iter().map(|b| b.rental_units).sum();
    assert_eq!(after, before.iter().map(|b| b.rental_units).sum::<u32>() + 120_000);
    s.done();
}

fn an_xlsx_ledger_imports_like_csv(postgis: bool) {
    let s = Store::new(postgis);
    let before = s.stats();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["编号", "楼栋编号", "房号", "是否登记", "登记日期", "租住人数"].iter().enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "XL-1").unwrap();
    ws.write_number(1, 1, 2.0).unwrap();
    ws.write_number(1, 2, 501.0).unwrap();
    ws.write_string(1, 3, "是").unwrap();
    let day = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 5, 20).unwrap();
    ws.write_datetime_with_format(1, 4, &day, &rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd")).unwrap();
    ws.write_number(1, 5, 2.0).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let truncated = s.file("cut.xlsx", &bytes[..bytes.len() / 2]);
    refused_without_panic(&s.run(&["import", "units", &truncated]), "not a readable .xlsx workbook");
    assert_eq!(s.stats(), before);
    let path = s.file("ledger.xlsx", &bytes);
    let out = s.run(&["import", "units", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = s.stats();
    assert_eq!(after[2].rental_units, before[2].rental_units + 1);
    assert_eq!(after[2].rental_units_registered, before[2].rental_units_registered + 1);
    s.done();
}

fn building_footprints_are_checked_and_placed_in_their_grid(postgis: bool) {
    let s = Store::new(postgis);
    let atlas = s.rt.block_on(async {
        let store = startup::open_store(&s.at, false).await.unwrap();
        startup::load_atlas(store.as_ref()).await.unwrap()
    });
    let before = atlas.buildings().len();
    let grid = &atlas.grids()[0];
    let (x, y) = (grid.label_point.x(), grid.label_point.y());
    let d = 0.00005;
    let square = format!(
        "[[[{},{}],[{},{}],[{},{}],[{},{}],[{},{}]]]",
        x - d,
        y - d,
        x + d,
        y - d,
        x + d,
        y + d,
        x - d,
        y + d,
        x - d,
        y - d
    );
    let bowtie = format!(
        "[[[{},{}],[{},{}],[{},{}],[{},{}],[{},{}]]]",
        x - d,
        y - d,
        x + d,
        y + d,
        x + d,
        y - d,
        x - d,
        y + d,
        x - d,
        y - d
    );
    let far = "[[[100.0,30.0],[100.001,30.0],[100.001,30.001],[100.0,30.001],[100.0,30.0]]]";
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[
        {{"type":"Feature","properties":{{"编号":"B-1","类型":"农民自建房","层数":4,"户数":8}},"geometry":{{"type":"Polygon","coordinates":{square}}}}},
        {{"type":"Feature","properties":{{"编号":"B-2"}},"geometry":{{"type":"Polygon","coordinates":{bowtie}}}}},
        {{"type":"Feature","properties":{{"编号":"B-3"}},"geometry":{{"type":"Polygon","coordinates":{far}}}}},
        {{"type":"Feature","properties":{{"类型":"城堡"}},"geometry":{{"type":"Polygon","coordinates":{square}}}}}]}}"#
    );
    let path = s.file("buildings.geojson", fc.as_bytes());
    let out = s.run(&["import", "buildings", &path]);
    refused_without_panic(&out, "nothing was imported: 3 of 4 features");
    let e = stderr(&out);
    assert!(e.contains("feature 2: the geometry is not a valid polygon"), "{e}");
    assert!(e.contains("feature 3: ") && e.contains("is outside 海曙区"), "{e}");
    assert!(e.contains("feature 4, column external_id: is empty"), "{e}");
    assert!(e.contains("feature 4, column 类型"), "{e}");
    for (bad, hint) in [
        ("not json", "the file is not JSON"),
        (r#"{"type":"Feature"}"#, "not a GeoJSON FeatureCollection"),
        (r#"{"type":"FeatureCollection","features":[]}"#, "has no features"),
    ] {
        let p = s.file("bad.geojson", bad.as_bytes());
        refused_without_panic(&s.run(&["import", "buildings", &p]), hint);
    }
    assert_eq!(s.stats().len(), before);

    let out = s.run(&["import", "buildings", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("1 new, 0 updated; 3 bad features skipped"), "{}", stderr(&out));
    let input =
        s.rt.block_on(async { startup::open_store(&s.at, false).await.unwrap().load_atlas_input().await.unwrap() });
    assert_eq!(input.buildings.len(), before + 1);
    let added = &input.buildings[before];
    assert_eq!((added.id as usize, added.grid_id, added.floors), (before, 0, 4));
    let out = s.run(&["import", "buildings", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("0 new, 1 updated"), "{}", stderr(&out));
    assert_eq!(s.stats().len(), before + 1);
    s.done();
}

fn person_ledgers_are_checked_against_the_register(postgis: bool) {
    let s = Store::new(postgis);
    let before = s.stats();
    let unit = s.rt.block_on(async {
        let store = startup::open_store(&s.at, false).await.unwrap();
        store.ledger(rentgrid_server::store::Ledger::Units).await.unwrap()
    });
    let (unit_key, building) = match (&unit[0][0], &unit[0][1]) {
        (rentgrid_server::store::Cell::Text(u), rentgrid_server::store::Cell::Text(b)) => {
            (u.clone(), b.parse::<usize>().unwrap())
        }
        other => panic!("{other:?}"),
    };
    let ledger = format!(
        "出租房屋编号,户号,姓名,身份证号,是否登记,登记日期,是否办证\n\
         {unit_key},H-1,张三,11010519491231002X,是,2025-03-01,是\n\
         {unit_key},H-1,李四,110105194912310021,是,2025-03-01,否\n\
         NO-SUCH-UNIT,H-2,王五,110101199003070513,否,,否\n\
         {unit_key},H-1,赵六,11010519491231002X,否,,否\n"
    );
    let path = s.file("persons.csv", ledger.as_bytes());
    let out = s.run(&["import", "persons", &path]);
    refused_without_panic(&out, "nothing was imported: 3 of 4 rows");
    let e = stderr(&out);
    assert!(e.contains("row 3, column 身份证号"), "{e}");
    assert!(e.contains("row 4, column 出租房屋编号") && e.contains("NO-SUCH-UNIT"), "{e}");
    assert!(e.contains("row 5, column 身份证号"), "{e}");
    assert_eq!(s.stats(), before, "a refused import changed the store");
    for (name, bytes, hint) in [
        ("empty.csv", Vec::new(), "the file is empty"),
        ("cut.xlsx", b"PK\x03\x04\x14\x00\x06\x00".to_vec(), "not a readable .xlsx workbook"),
        ("columns.csv", "姓名,地址\n张三,x\n".as_bytes().to_vec(), "missing column(s)"),
    ] {
        let p = s.file(name, &bytes);
        refused_without_panic(&s.run(&["import", "persons", &p]), hint);
    }
    assert_eq!(s.stats(), before);

    let out = s.run(&["import", "persons", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("1 new, 0 updated; 3 bad rows skipped"), "{}", stderr(&out));
    let after = s.stats();
    assert_eq!(after[building].persons, before[building].persons + 1);
    assert_eq!(after[building].persons_with_permit, before[building].persons_with_permit + 1);
    let out = s.run(&["import", "persons", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("0 new, 1 updated"), "{}", stderr(&out));
    assert_eq!(s.stats(), after, "a re-import duplicated the person");
    s.done();
}

fn grids_and_boundaries_are_checked(postgis: bool) {
    let s = Store::new(postgis);
    let atlas = s.rt.block_on(async {
        let store = startup::open_store(&s.at, false).await.unwrap();
        startup::load_atlas(store.as_ref()).await.unwrap()
    });
    let community = atlas.communities()[0].community.code.clone();
    let p = atlas.grids()[0].label_point;
    let (x, y, d) = (p.x(), p.y(), 0.001);
    let ring = |pts: &[(f64, f64)]| {
        let v: Vec<String> = pts.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
        format!("[[{}]]", v.join(","))
    };
    let square = ring(&[(x - d, y - d), (x + d, y - d), (x + d, y + d), (x - d, y + d), (x - d, y - d)]);
    let bowtie = ring(&[(x - d, y - d), (x + d, y + d), (x + d, y - d), (x - d, y + d), (x - d, y - d)]);
    let far = ring(&[(100.0, 30.0), (100.01, 30.0), (100.01, 30.01), (100.0, 30.01), (100.0, 30.0)]);
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[
        {{"type":"Feature","properties":{{"网格编码":"G-NEW","网格名称":"新网格","社区编码":"{community}"}},"geometry":{{"type":"Polygon","coordinates":{square}}}}},
        {{"type":"Feature","properties":{{"网格编码":"G-BOW","网格名称":"x","社区编码":"{community}"}},"geometry":{{"type":"Polygon","coordinates":{bowtie}}}}},
        {{"type":"Feature","properties":{{"网格编码":"G-FAR","网格名称":"x","社区编码":"{community}"}},"geometry":{{"type":"Polygon","coordinates":{far}}}}},
        {{"type":"Feature","properties":{{"网格编码":"G-X","网格名称":"x","社区编码":"000000000000"}},"geometry":{{"type":"Polygon","coordinates":{square}}}}}]}}"#
    );
    let path = s.file("grids.geojson", fc.as_bytes());
    let out = s.run(&["import", "grids", &path]);
    refused_without_panic(&out, "nothing was imported: 3 of 4 features");
    let e = stderr(&out);
    assert!(e.contains("feature 2") && e.contains("valid"), "{e}");
    assert!(e.contains("feature 3"), "{e}");
    assert!(e.contains("feature 4, column 社区编码"), "{e}");
    let other = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"level":"district","code":"110101","name":"东城区"},"geometry":{"type":"Polygon","coordinates":[[[116.4,39.9],[116.41,39.9],[116.41,39.91],[116.4,39.9]]]}}]}"#;
    let p = s.file("other.geojson", other.as_bytes());
    refused_without_panic(&s.run(&["import", "boundaries", &p]), "is not this register's district, 330203");
    let n = atlas.grids().len();
    let out = s.run(&["import", "grids", &path, "--skip-invalid"]);
    assert!(stderr(&out).contains("1 new, 0 updated; 3 bad features skipped"), "{}", stderr(&out));
    let input =
        s.rt.block_on(async { startup::open_store(&s.at, false).await.unwrap().load_atlas_input().await.unwrap() });
    assert_eq!(input.grids.len(), n + 1);
    assert_eq!((input.grids[n].id as usize, input.grids[n].code.as_str()), (n, "G-NEW"));
    s.done();
}

/// A ledger of `n` new rental units spread over `buildings` buildings.
pub fn big_ledger(n: usize, buildings: usize) -> String {
    let mut ledger = String::from("编号,楼栋编号,房号,房东姓名,房东电话,是否登记,租住人数\n");
    for i in 0..n {
        ledger.push_str(&format!("K-{i},{},{},房东{i},1380000{:04},是,2\n", i % buildings, i % 900 + 100, i % 10_000));
    }
    ledger
}

/// `rentgrid backup` while a large import writes: the copy holds the register before the import
/// or after it, never part of it; `rentgrid restore` puts it back and the register reads the
/// same. A backup taken when the writes are done restores to exactly the live register.
#[test]
fn a_backup_taken_during_writes_restores_whole() {
    let s = Store::new(false);
    let before = s.stats();
    let path = s.file("big.csv", big_ledger(60_000, before.len()).as_bytes());
    let mut import = s.import_in_background(&path);
    // Once it writes, back up.
    let mut lines = BufReader::new(import.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("writing rental units ") {
            break;
        }
    }
    let during = s._dir.path().join("during.gpkg");
    let out = s.run(&["backup", "--output", &during.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("backed up"), "{}", stderr(&out));
    lines.for_each(drop);
    assert!(import.wait().unwrap().success());
    let after = s.stats();
    assert_ne!(after, before);

    // Restored into a new directory, the copy is one of the two registers.
    let restored = Store::at(s._dir.path().join("restored"));
    let out = restored.run(&["restore", &during.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = restored.stats();
    assert!(got == before || got == after, "a backup during an import holds part of it");

    // Taken after the writes, over a store that holds something else: exactly the live register.
    let done = s._dir.path().join("done.gpkg");
    assert!(s.run(&["backup", "--output", &done.display().to_string()]).status.success());
    let again = s.run(&["backup", "--output", &done.display().to_string()]);
    assert!(!again.status.success() && stderr(&again).contains("exists"), "a backup never overwrites a file");
    let out = restored.run(&["restore", &done.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("visits"), "restore says what it put back: {}", stderr(&out));
    assert_eq!(restored.stats(), after);
    s.done();
}

/// A store file that is not whole (empty, not a GeoPackage, cut short) is refused at start by its
/// name, left byte for byte as it was, and never seeded over; a backup that is not whole is not
/// restored, and the store it would have replaced is kept.
#[test]
fn a_store_file_that_is_not_whole_is_refused_by_name() {
    let s = Store::new(false);
    let StoreLocation::Sqlite(data) = &s.at else { unreachable!() };
    // A whole store in one file (no journal beside it): a backup.
    let whole = s._dir.path().join("whole.gpkg");
    assert!(s.run(&["backup", "--output", &whole.display().to_string()]).status.success());
    let whole = std::fs::read(&whole).unwrap();
    // The store as it is now (opening it may have checkpointed its journal), file and journal.
    let files = |dir: &std::path::Path| {
        ["rentgrid.gpkg", "rentgrid.gpkg-wal"].map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
    };
    let good = files(data);
    for (what, bytes) in [
        ("empty", Vec::new()),
        ("not a GeoPackage", b"PK\x03\x04 an xlsx, say".repeat(100)),
        ("cut short", whole[..whole.len() / 2].to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rentgrid.gpkg");
        std::fs::write(&file, &bytes).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &dir.path().display().to_string()])
            .output()
            .unwrap();
        let said = stderr(&out);
        assert!(!out.status.success(), "{what}: served");
        assert!(said.contains(&file.display().to_string()) && said.contains("restore"), "{what}: {said}");
        assert!(!said.contains("seeding"), "{what}: seeded over it: {said}");
        assert!(!said.contains("panicked"), "{what}: {said}");
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{what}: the file was changed");

        let bad_backup = dir.path().join("backup.gpkg");
        std::fs::write(&bad_backup, &bytes).unwrap();
        let out = s.run(&["restore", &bad_backup.display().to_string()]);
        assert!(!out.status.success(), "{what}: restored");
        assert!(stderr(&out).contains(&bad_backup.display().to_string()), "{what}: {}", stderr(&out));
    }
    assert!(files(data) == good, "a refused restore changed the store");
    s.done();
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(false) })*
        }
        mod postgis {
            $(#[test] fn $name() { super::$name(true) })*
        }
    };
}

on_both_stores!(
    bad_ledgers_are_refused_whole,
    malformed_files_get_clear_errors,
    an_import_killed_mid_write_changes_nothing,
    an_xlsx_ledger_imports_like_csv,
    building_footprints_are_checked_and_placed_in_their_grid,
    person_ledgers_are_checked_against_the_register,
    grids_and_boundaries_are_checked,
);
