//! Exports of the register's layers and tables, within the caller's [`Scope`]: GeoJSON, CSV
//! (UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; geometry as WKT) and
//! XLSX (Chinese or English headers).
//!
//! The register's ledgers (rental units with their landlords, persons, caseworkers, workplaces,
//! visits) are person-level: they are exported only by `rentgrid export`, by whoever holds the
//! store, in the columns their importers read, so that `rentgrid export all` and `rentgrid import
//! all` move a district between stores. The API refuses them until login lands.

use crate::scope::Scope;
use crate::store::Ledger;
use geo::Centroid;
use rentgrid_analysis::actual_rates::{self, PlaceRates, Verdict};
use rentgrid_analysis::disclosure;
use rentgrid_analysis::kpi::{self, Counts, Kpi, Level, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::{Atlas, BuildingStats};
use serde_json::{Value, json};

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Grids with their KPIs.
    Grids,
    /// Buildings with their counts.
    Buildings,
    /// KPIs per street (table).
    Streets,
    /// KPIs per community (table).
    Communities,
    /// The district outline, its streets and communities, as the boundaries importer reads them.
    Boundaries,
    /// A ledger of the store (person-level: CLI only).
    Ledger(Ledger),
}

impl Layer {
    /// Every layer, in the order `rentgrid import all` reads them back.
    pub const ALL: [Layer; 10] = [
        Layer::Boundaries,
        Layer::Grids,
        Layer::Buildings,
        Layer::Ledger(Ledger::Workplaces),
        Layer::Ledger(Ledger::Units),
        Layer::Ledger(Ledger::Persons),
        Layer::Ledger(Ledger::Caseworkers),
        Layer::Ledger(Ledger::Visits),
        Layer::Streets,
        Layer::Communities,
    ];

    /// Its name in URLs, on the command line and as a file name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Grids => "grids",
            Layer::Buildings => "buildings",
            Layer::Streets => "streets",
            Layer::Communities => "communities",
            Layer::Boundaries => "boundaries",
            Layer::Ledger(Ledger::Units) => "units",
            Layer::Ledger(Ledger::Persons) => "persons",
            Layer::Ledger(Ledger::Caseworkers) => "caseworkers",
            Layer::Ledger(Ledger::Workplaces) => "workplaces",
            Layer::Ledger(Ledger::Visits) => "visits",
        }
    }

    /// Its sheet name in a workbook.
    fn sheet(self, lang: Lang) -> &'static str {
        if lang == Lang::En {
            return self.as_str();
        }
        match self {
            Layer::Grids => "网格",
            Layer::Buildings => "建筑",
            Layer::Streets => "街道",
            Layer::Communities => "社区",
            Layer::Boundaries => "行政区划",
            Layer::Ledger(Ledger::Units) => "出租房屋",
            Layer::Ledger(Ledger::Persons) => "流动人口",
            Layer::Ledger(Ledger::Caseworkers) => "综管员",
            Layer::Ledger(Ledger::Workplaces) => "单位",
            Layer::Ledger(Ledger::Visits) => "走访记录",
        }
    }
}

impl std::str::FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Layer::ALL.iter().map(|l| l.as_str()).collect();
            format!("unknown layer {s:?}: use {}", names.join(", "))
        })
    }
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GeoJSON FeatureCollection (tables: features without geometry).
    GeoJson,
    /// CSV, UTF-8 with BOM.
    Csv,
    /// Excel workbook.
    Xlsx,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "geojson" | "json" => Ok(Format::GeoJson),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(format!("unknown format {s:?}: use geojson, csv or xlsx")),
        }
    }
}

impl Format {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Header language of CSV and XLSX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文 headers (default: what supervisors hand in).
    Zh,
    /// English headers (the API's field names).
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;
    /// `zh` (or `zh-CN`) and `en`, as the `lang` parameter of an export takes them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zh" | "zh-CN" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            other => Err(format!("lang={other:?}: use zh or en")),
        }
    }
}

/// A cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(u64),
    /// A number.
    Num(f64),
    /// Nothing.
    Empty,
}

/// One sheet of a workbook: its name, columns (English key, Chinese header) and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The sheet's name (at most 31 characters; Excel's forbidden characters are replaced).
    pub name: String,
    /// Column keys and Chinese headers.
    pub columns: Vec<(&'static str, &'static str)>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
}

/// A table supervisors hand in: as CSV every row of `all`; as XLSX the summary sheet, if any,
/// then one sheet per street.
#[derive(Debug, Clone, PartialEq)]
pub struct Book {
    /// Every row, for CSV.
    pub all: Sheet,
    /// A summary sheet, first in the workbook.
    pub summary: Option<Sheet>,
    /// One sheet per street.
    pub streets: Vec<Sheet>,
}

impl Book {
    /// A book of one sheet: its rows as CSV, the sheet alone as XLSX.
    pub fn single(sheet: Sheet) -> Self {
        Self { all: sheet.clone(), summary: Some(sheet), streets: Vec::new() }
    }
}

/// Writes a [`Book`] as CSV or XLSX (GeoJSON is refused: a book is a table without geometry).
pub fn write_book(book: &Book, format: Format, lang: Lang) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Csv => Ok(csv_text(&book.all.columns, &book.all.rows, &[], lang).into_bytes()),
        Format::Xlsx => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            for sheet in book.summary.iter().chain(&book.streets) {
                add_sheet(&mut wb, &sheet.name, &sheet.columns, &sheet.rows, lang)?;
            }
            wb.save_to_buffer().map_err(xlsx_error)
        }
        Format::GeoJson => Err(ExportError("this table has no geometry: export it as csv or xlsx".into())),
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let clean: String = name.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).take(31).collect();
    if clean.trim().is_empty() { "sheet".into() } else { clean }
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError(e.to_string())
}

fn header(col: &(&'static str, &'static str), lang: Lang) -> &'static str {
    if lang == Lang::Zh { col.1 } else { col.0 }
}

/// CSV, UTF-8 with a BOM, with a last WKT column when `geometry` holds any.
fn csv_text(
    columns: &[(&'static str, &'static str)],
    rows: &[Vec<Cell>],
    geometry: &[Option<geo::Geometry<f64>>],
    lang: Lang,
) -> String {
    let mut out = String::from("\u{FEFF}");
    let has_geometry = geometry.iter().any(Option::is_some);
    let mut heads: Vec<&str> = columns.iter().map(|c| header(c, lang)).collect();
    if has_geometry {
        heads.push(if lang == Lang::Zh { "几何（WKT）" } else { "wkt" });
    }
    out.push_str(&heads.join(","));
    out.push('\n');
    for (i, row) in rows.iter().enumerate() {
        let mut fields: Vec<String> = row.iter().map(csv_field).collect();
        if has_geometry {
            let g = geometry.get(i).and_then(Option::as_ref);
            fields.push(g.map_or(String::new(), |g| format!("\"{}\"", wkt(g))));
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// Adds a sheet with a bold header row, frozen.
fn add_sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    name: &str,
    columns: &[(&'static str, &'static str)],
    rows: &[Vec<Cell>],
    lang: Lang,
) -> Result<(), ExportError> {
    let err = xlsx_error;
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name(name)).map_err(err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, col) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, header(col, lang), &bold).map_err(err)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s).map(|_| ()).map_err(err)?,
                Cell::Int(i) => ws.write_number(r, c, *i as f64).map(|_| ()).map_err(err)?,
                Cell::Num(f) => ws.write_number(r, c, *f).map(|_| ()).map_err(err)?,
                Cell::Empty => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    Ok(())
}

impl Cell {
    /// The number it holds, if it holds one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(f) => Some(*f),
            Cell::Text(_) | Cell::Empty => None,
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Cell::Empty, Cell::Num)
    }
}

/// An exported table: column keys (English), Chinese headers, rows, and per row an optional
/// geometry and the GeoJSON properties.
struct Table {
    columns: Vec<(&'static str, &'static str)>,
    rows: Vec<Vec<Cell>>,
    geometry: Vec<Option<geo::Geometry<f64>>>,
}

/// Failure to write a file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the export: {0}")]
pub struct ExportError(String);

const KPI_COLUMNS: [(&str, &str); 16] = [
    ("persons", "实有流动人口"),
    ("persons_registered", "已登记人数"),
    ("persons_with_permit", "已办证人数"),
    ("persons_consistent", "人户一致人数"),
    ("rental_units", "出租房屋（套）"),
    ("rental_units_registered", "已登记出租房屋"),
    ("pledges_signed", "已签保证书"),
    ("reg_rate", "流动人口登记率"),
    ("reg_rate_low", "登记率95%下限"),
    ("reg_rate_high", "登记率95%上限"),
    ("permit_rate", "登记做证率"),
    ("rental_rate", "出租房屋登记率"),
    ("consistency_rate", "人户一致率"),
    ("pledge_rate", "治安责任保证书签订率"),
    ("persons_per_km2", "人口密度（人/km²）"),
    ("reg_status", "登记率状态"),
];

/// The estimated actual rates ([`PlaceRates`]): empty without an estimate.
pub(crate) const ESTIMATE_COLUMNS: [(&str, &str); 18] = [
    ("persons_unrecorded_est", "估计未登记人口"),
    ("persons_unrecorded_low", "未登记人口90%下限"),
    ("persons_unrecorded_high", "未登记人口90%上限"),
    ("reg_rate_est", "估计实际登记率"),
    ("reg_rate_est_low", "估计实际登记率90%下限"),
    ("reg_rate_est_high", "估计实际登记率90%上限"),
    ("reg_rate_verdict", "登记率判定"),
    ("permit_rate_est", "估计实际登记做证率"),
    ("permit_rate_est_low", "估计实际登记做证率90%下限"),
    ("permit_rate_est_high", "估计实际登记做证率90%上限"),
    ("permit_rate_verdict", "登记做证率判定"),
    ("rental_units_unrecorded_est", "估计未登记出租房屋"),
    ("rental_units_unrecorded_low", "未登记出租房屋90%下限"),
    ("rental_units_unrecorded_high", "未登记出租房屋90%上限"),
    ("rental_rate_est", "估计实际出租房屋登记率"),
    ("rental_rate_est_low", "估计实际出租房屋登记率90%下限"),
    ("rental_rate_est_high", "估计实际出租房屋登记率90%上限"),
    ("rental_rate_verdict", "出租房屋登记率判定"),
];

/// The cells of [`ESTIMATE_COLUMNS`] for `a` (verdicts in `lang`).
pub(crate) fn estimate_cells(a: &PlaceRates, lang: Lang) -> Vec<Cell> {
    let lang = match lang {
        Lang::Zh => rentgrid_analysis::candidates::Lang::Zh,
        Lang::En => rentgrid_analysis::candidates::Lang::En,
    };
    let verdict = |v: Option<Verdict>| v.map_or(Cell::Empty, |v| Cell::Text(v.text(lang).into()));
    vec![
        a.persons_unrecorded_est.into(),
        a.persons_unrecorded_low.into(),
        a.persons_unrecorded_high.into(),
        a.reg_rate_est.into(),
        a.reg_rate_est_low.into(),
        a.reg_rate_est_high.into(),
        verdict(a.reg_rate_verdict),
        a.permit_rate_est.into(),
        a.permit_rate_est_low.into(),
        a.permit_rate_est_high.into(),
        verdict(a.permit_rate_verdict),
        a.rental_units_unrecorded_est.into(),
        a.rental_units_unrecorded_low.into(),
        a.rental_units_unrecorded_high.into(),
        a.rental_rate_est.into(),
        a.rental_rate_est_low.into(),
        a.rental_rate_est_high.into(),
        verdict(a.rental_rate_verdict),
    ]
}

/// `cells` of `columns` as a leader (`suppress`) may see them: each computed from fewer than
/// [`disclosure::K`] persons of the place with counts `s` reads "<5".
fn disclose(columns: &[(&str, &str)], cells: Vec<Cell>, s: &BuildingStats, suppress: bool) -> Vec<Cell> {
    if !suppress {
        return cells;
    }
    columns
        .iter()
        .zip(cells)
        .map(
            |((name, _), c)| {
                if disclosure::hides_value(name, s, c.number()) { Cell::Text(format!("<{}", disclosure::K)) } else { c }
            },
        )
        .collect()
}

fn kpi_cells(k: &Kpi) -> Vec<Cell> {
    let s = &k.counts.stats;
    let status = match k.reg_status {
        kpi::Status::Meets => "达标",
        kpi::Status::Near => "接近目标",
        kpi::Status::Below => "未达标",
        kpi::Status::None => "无流动人口",
    };
    vec![
        Cell::Int(s.persons.into()),
        Cell::Int(s.persons_registered.into()),
        Cell::Int(s.persons_with_permit.into()),
        Cell::Int(s.persons_consistent.into()),
        Cell::Int(s.rental_units.into()),
        Cell::Int(s.rental_units_registered.into()),
        Cell::Int(s.pledges_signed.into()),
        k.reg_rate.into(),
        k.reg_rate_low.into(),
        k.reg_rate_high.into(),
        k.permit_rate.into(),
        k.rental_rate.into(),
        k.consistency_rate.into(),
        k.pledge_rate.into(),
        k.persons_per_km2.into(),
        Cell::Text(status.into()),
    ]
}

/// What the grids, streets, communities, boundaries and buildings are exported from.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The snapshot.
    pub atlas: &'a Atlas,
    /// Its grid counts ([`rentgrid_analysis::kpi::grid_counts`], which the server caches per
    /// snapshot).
    pub counts: &'a [Counts],
    /// The KPI targets.
    pub targets: &'a Targets,
    /// The estimate the estimated actual rates come from; `None` leaves their columns empty.
    pub unrecorded: Option<&'a Unrecorded>,
}

fn table(src: &Sources, layer: Layer, scope: &Scope, lang: Lang) -> Table {
    let (atlas, counts, targets) = (src.atlas, src.counts, src.targets);
    match layer {
        Layer::Grids => {
            let mut columns = vec![
                ("id", "网格ID"),
                ("code", "网格编码"),
                ("name", "网格名称"),
                ("community_code", "社区编码"),
                ("community_name", "社区"),
                ("street_name", "街道"),
                ("area_km2", "面积（km²）"),
                ("buildings", "建筑（栋）"),
            ];
            columns.extend(KPI_COLUMNS);
            columns.extend(ESTIMATE_COLUMNS);
            let mut rows = Vec::new();
            let mut geometry = Vec::new();
            for g in atlas.grids().iter().filter(|g| scope.sees_grid(g.grid.id)) {
                let k = Kpi::from_counts(counts[g.grid.id as usize], targets);
                let a = PlaceRates::of(&k.counts, &[g.grid.id], src.unrecorded, targets);
                let mut row = vec![
                    Cell::Int(g.grid.id.into()),
                    Cell::Text(g.grid.code.clone()),
                    Cell::Text(g.grid.name.clone()),
                    Cell::Text(g.grid.community_code.clone()),
                    Cell::Text(atlas.communities()[g.community].community.name.clone()),
                    Cell::Text(atlas.streets()[g.street].street.name.clone()),
                    Cell::Num(g.area_km2),
                    Cell::Int(k.counts.buildings.into()),
                ];
                let leader = scope.aggregates_only();
                row.extend(disclose(&KPI_COLUMNS, kpi_cells(&k), &k.counts.stats, leader));
                row.extend(disclose(&ESTIMATE_COLUMNS, estimate_cells(&a, lang), &k.counts.stats, leader));
                rows.push(row);
                geometry.push(Some(g.grid.geometry.clone().into()));
            }
            Table { columns, rows, geometry }
        }
        Layer::Buildings => {
            let columns = vec![
                ("external_id", "楼栋编号"),
                ("id", "建筑ID"),
                ("grid_id", "网格ID"),
                ("kind", "类型"),
                ("address", "地址"),
                ("floors", "层数"),
                ("dwellings", "户数"),
                ("utility_accounts", "水电表户数"),
                ("rental_units", "出租房屋（套）"),
                ("rental_units_registered", "已登记出租房屋"),
                ("persons", "实有流动人口"),
                ("persons_registered", "已登记人数"),
                ("lon", "经度"),
                ("lat", "纬度"),
            ];
            let mut rows = Vec::new();
            let mut geometry = Vec::new();
            for b in atlas.buildings().iter().filter(|b| scope.sees_grid(b.grid_id)) {
                let s = atlas.building_stats(b.id).copied().unwrap_or_default();
                let c = b.footprint.centroid().unwrap_or(b.point);
                rows.push(vec![
                    Cell::Text(b.external_id.clone()),
                    Cell::Int(b.id.into()),
                    Cell::Int(b.grid_id.into()),
                    Cell::Text(b.kind.as_str().into()),
                    Cell::Text(b.address.clone()),
                    Cell::Int(b.floors.into()),
                    Cell::Int(b.dwellings.into()),
                    Cell::Int(b.utility_accounts.into()),
                    Cell::Int(s.rental_units.into()),
                    Cell::Int(s.rental_units_registered.into()),
                    Cell::Int(s.persons.into()),
                    Cell::Int(s.persons_registered.into()),
                    Cell::Num(c.x()),
                    Cell::Num(c.y()),
                ]);
                geometry.push(Some(b.footprint.clone().into()));
            }
            Table { columns, rows, geometry }
        }
        Layer::Streets | Layer::Communities => {
            let level = if layer == Layer::Streets { Level::Street } else { Level::Community };
            let mut columns =
                vec![("code", "编码"), ("name", "名称"), ("parent_code", "上级编码"), ("area_km2", "面积（km²）")];
            columns.extend(KPI_COLUMNS);
            columns.extend(ESTIMATE_COLUMNS);
            // Places with a grid outside the scope are left out whole, not partly counted.
            let visible_streets: Vec<&str> = atlas
                .streets()
                .iter()
                .filter(|s| s.grids.iter().all(|&g| scope.sees_grid(g)))
                .map(|s| s.street.code.as_str())
                .collect();
            let visible_communities: Vec<&str> = atlas
                .communities()
                .iter()
                .filter(|c| c.grids.iter().all(|&g| scope.sees_grid(g)))
                .map(|c| c.community.code.as_str())
                .collect();
            let rows: Vec<Vec<Cell>> = actual_rates::rollup(atlas, counts, src.unrecorded, level, targets)
                .into_iter()
                .filter(|r| match level {
                    Level::Street => visible_streets.contains(&r.row.code.as_str()),
                    _ => visible_communities.contains(&r.row.code.as_str()),
                })
                .map(|actual_rates::RatesRow { row: r, actual }| {
                    let mut row = vec![
                        Cell::Text(r.code.clone()),
                        Cell::Text(r.name.clone()),
                        r.parent_code.clone().map_or(Cell::Empty, Cell::Text),
                        Cell::Num(r.kpi.counts.area_km2),
                    ];
                    let leader = scope.aggregates_only();
                    row.extend(disclose(&KPI_COLUMNS, kpi_cells(&r.kpi), &r.kpi.counts.stats, leader));
                    row.extend(disclose(&ESTIMATE_COLUMNS, estimate_cells(&actual, lang), &r.kpi.counts.stats, leader));
                    row
                })
                .collect();
            let geometry = vec![None; rows.len()];
            Table { columns, rows, geometry }
        }
        Layer::Boundaries => {
            let columns = vec![
                ("level", "层级"),
                ("code", "编码"),
                ("name", "名称"),
                ("street_code", "所属街道"),
                ("kind", "类型"),
            ];
            let d = atlas.district();
            let mut rows = vec![vec![
                Cell::Text("district".into()),
                Cell::Text(d.code.clone()),
                Cell::Text(d.name.clone()),
                Cell::Empty,
                Cell::Empty,
            ]];
            let mut geometry = vec![Some(d.outline.clone().into())];
            for s in atlas.streets().iter().filter(|s| s.grids.iter().all(|&g| scope.sees_grid(g))) {
                rows.push(vec![
                    Cell::Text("street".into()),
                    Cell::Text(s.street.code.clone()),
                    Cell::Text(s.street.name.clone()),
                    Cell::Empty,
                    Cell::Empty,
                ]);
                geometry.push(None);
            }
            for c in atlas.communities().iter().filter(|c| c.grids.iter().all(|&g| scope.sees_grid(g))) {
                rows.push(vec![
                    Cell::Text("community".into()),
                    Cell::Text(c.community.code.clone()),
                    Cell::Text(c.community.name.clone()),
                    Cell::Text(c.community.street_code.clone()),
                    Cell::Text(crate::store::names::community_kind_str(c.community.kind).into()),
                ]);
                geometry.push(None);
            }
            Table { columns, rows, geometry }
        }
        Layer::Ledger(_) => Table { columns: vec![], rows: vec![], geometry: vec![] },
    }
}

/// The columns of a ledger as its importer reads them (English key, Chinese header), in the
/// order of [`crate::store::ledger_sql`].
fn ledger_columns(which: Ledger) -> Vec<(&'static str, &'static str)> {
    match which {
        Ledger::Units => vec![
            ("external_id", "编号"),
            ("building", "楼栋编号"),
            ("label", "房号"),
            ("landlord_name", "房东姓名"),
            ("landlord_id_number", "房东身份证号"),
            ("landlord_phone", "房东电话"),
            ("registered", "是否登记"),
            ("registered_on", "登记日期"),
            ("pledge_signed", "治安责任保证书"),
            ("tenants", "租住人数"),
            ("mode", "管理模式"),
            ("concentrated", "集中居住"),
        ],
        Ledger::Persons => vec![
            ("unit", "出租房屋编号"),
            ("household", "户号"),
            ("name", "姓名"),
            ("id_number", "身份证号"),
            ("phone", "联系电话"),
            ("registered", "是否登记"),
            ("registered_on", "登记日期"),
            ("permit", "是否办证"),
            ("consistent", "人户一致"),
            ("workplace", "工作单位编号"),
        ],
        Ledger::Caseworkers => {
            vec![("external_id", "工号"), ("name", "姓名"), ("street", "所属街道"), ("grids", "包干网格")]
        }
        Ledger::Workplaces => vec![
            ("external_id", "单位编号"),
            ("name", "单位名称"),
            ("building", "楼栋编号"),
            ("lon", "经度"),
            ("lat", "纬度"),
            ("employees", "职工人数"),
            ("migrant_workers", "流动人口数"),
            ("responsibility_signed", "是否签订责任书"),
            ("contracts_signed", "签订劳动合同人数"),
            ("insured", "参保人数"),
        ],
        Ledger::Visits => vec![
            ("client_id", "走访编号"),
            ("building", "楼栋编号"),
            ("caseworker", "综管员工号"),
            ("visited_on", "走访日期"),
            ("units_registered", "登记房屋数"),
            ("pledges_signed", "签订保证书数"),
            ("units_found", "新发现房屋数"),
            ("persons_found", "新发现人数"),
            ("notes", "备注"),
        ],
    }
}

/// A ledger read from the store as an exported table. The caseworker roster comes one row per
/// (caseworker, grid) and leaves with one row per caseworker, grids joined by `;`.
fn ledger_table(which: Ledger, rows: Vec<Vec<crate::store::Cell>>) -> Table {
    use crate::store::Cell as S;
    let cell = |c: S| match c {
        S::Text(s) => Cell::Text(s),
        S::Int(i) => u64::try_from(i).map_or(Cell::Text(i.to_string()), Cell::Int),
        S::Num(f) => Cell::Num(f),
        S::Null => Cell::Empty,
    };
    let mut out: Vec<Vec<Cell>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row: Vec<Cell> = row.into_iter().map(cell).collect();
        if which == Ledger::Caseworkers {
            let grid = row.pop().unwrap_or(Cell::Empty);
            match out.last_mut() {
                Some(last) if last.first() == row.first() => {
                    if let (Some(Cell::Text(list)), Cell::Text(g)) = (last.last_mut(), grid) {
                        list.push(';');
                        list.push_str(&g);
                    }
                    continue;
                }
                _ => row.push(match grid {
                    Cell::Text(g) => Cell::Text(g),
                    _ => Cell::Text(String::new()),
                }),
            }
        }
        out.push(row);
    }
    let geometry = vec![None; out.len()];
    Table { columns: ledger_columns(which), rows: out, geometry }
}

/// Well-Known Text of a polygon or multipolygon (the only geometry exported as text).
fn wkt(g: &geo::Geometry<f64>) -> String {
    let ring = |r: &geo::LineString<f64>| {
        let pts: Vec<String> = r.coords().map(|c| format!("{} {}", c.x, c.y)).collect();
        format!("({})", pts.join(","))
    };
    let poly = |p: &geo::Polygon<f64>| {
        let rings: Vec<String> = std::iter::once(p.exterior()).chain(p.interiors()).map(ring).collect();
        format!("({})", rings.join(","))
    };
    match g {
        geo::Geometry::Polygon(p) => format!("POLYGON{}", poly(p)),
        geo::Geometry::MultiPolygon(mp) => {
            let parts: Vec<String> = mp.0.iter().map(poly).collect();
            format!("MULTIPOLYGON({})", parts.join(","))
        }
        _ => String::new(),
    }
}

fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Text(s) => json!(s),
        Cell::Int(i) => json!(i),
        Cell::Num(f) => json!(f),
        Cell::Empty => Value::Null,
    }
}

fn csv_field(c: &Cell) -> String {
    match c {
        Cell::Text(s) if s.contains([',', '"', '\n', '\r']) => format!("\"{}\"", s.replace('"', "\"\"")),
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Num(f) => f.to_string(),
        Cell::Empty => String::new(),
    }
}

/// Writes `layer` of `src` in `format`, limited to what `scope` may see.
pub fn export(src: &Sources, layer: Layer, format: Format, lang: Lang, scope: &Scope) -> Result<Vec<u8>, ExportError> {
    write(table(src, layer, scope, lang), layer, format, lang)
}

/// Writes a ledger read from the store (`rows` as [`crate::store::Store::ledger`] returns them).
pub fn export_ledger(
    which: Ledger,
    rows: Vec<Vec<crate::store::Cell>>,
    format: Format,
    lang: Lang,
) -> Result<Vec<u8>, ExportError> {
    write(ledger_table(which, rows), Layer::Ledger(which), format, lang)
}

fn write(t: Table, layer: Layer, format: Format, lang: Lang) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::GeoJson => {
            let features: Vec<Value> = t
                .rows
                .iter()
                .zip(&t.geometry)
                .map(|(row, g)| {
                    let props: serde_json::Map<String, Value> =
                        t.columns.iter().zip(row).map(|((k, _), c)| (k.to_string(), cell_json(c))).collect();
                    let geometry = g.as_ref().map_or(Value::Null, |g| {
                        serde_json::to_value(geojson::Geometry::from(g)).unwrap_or(Value::Null)
                    });
                    json!({ "type": "Feature", "geometry": geometry, "properties": props })
                })
                .collect();
            Ok(json!({ "type": "FeatureCollection", "features": features }).to_string().into_bytes())
        }
        Format::Csv => Ok(csv_text(&t.columns, &t.rows, &t.geometry, lang).into_bytes()),
        Format::Xlsx => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            add_sheet(&mut wb, layer.sheet(lang), &t.columns, &t.rows, lang)?;
            wb.save_to_buffer().map_err(xlsx_error)
        }
    }
}
