//! Exports of the register's layers and tables, within the caller's [`Scope`]: GeoJSON, CSV
//! (UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; geometry as WKT) and
//! XLSX (Chinese or English headers). Nothing person-level is exported.

use crate::scope::Scope;
use geo::Centroid;
use rentgrid_analysis::kpi::{self, Counts, Kpi, Level, Targets};
use rentgrid_geodata::Atlas;
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
}

impl std::str::FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grids" => Ok(Layer::Grids),
            "buildings" => Ok(Layer::Buildings),
            "streets" => Ok(Layer::Streets),
            "communities" => Ok(Layer::Communities),
            _ => Err(format!("unknown layer {s:?}: use grids, buildings, streets or communities")),
        }
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

/// A cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Int(u64),
    Num(f64),
    Empty,
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

fn table(atlas: &Atlas, counts: &[Counts], targets: &Targets, layer: Layer, scope: &Scope) -> Table {
    match layer {
        Layer::Grids => {
            let mut columns = vec![
                ("id", "网格ID"),
                ("code", "网格编码"),
                ("name", "网格名称"),
                ("community_name", "社区"),
                ("street_name", "街道"),
                ("area_km2", "面积（km²）"),
                ("buildings", "建筑（栋）"),
            ];
            columns.extend(KPI_COLUMNS);
            let mut rows = Vec::new();
            let mut geometry = Vec::new();
            for g in atlas.grids().iter().filter(|g| scope.sees_grid(g.grid.id)) {
                let k = Kpi::from_counts(counts[g.grid.id as usize], targets);
                let mut row = vec![
                    Cell::Int(g.grid.id.into()),
                    Cell::Text(g.grid.code.clone()),
                    Cell::Text(g.grid.name.clone()),
                    Cell::Text(atlas.communities()[g.community].community.name.clone()),
                    Cell::Text(atlas.streets()[g.street].street.name.clone()),
                    Cell::Num(g.area_km2),
                    Cell::Int(k.counts.buildings.into()),
                ];
                row.extend(kpi_cells(&k));
                rows.push(row);
                geometry.push(Some(g.grid.geometry.clone().into()));
            }
            Table { columns, rows, geometry }
        }
        Layer::Buildings => {
            let columns = vec![
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
            let rows: Vec<Vec<Cell>> = kpi::rollup(atlas, counts, level, targets)
                .into_iter()
                .filter(|r| match level {
                    Level::Street => visible_streets.contains(&r.code.as_str()),
                    _ => visible_communities.contains(&r.code.as_str()),
                })
                .map(|r| {
                    let mut row = vec![
                        Cell::Text(r.code.clone()),
                        Cell::Text(r.name.clone()),
                        r.parent_code.clone().map_or(Cell::Empty, Cell::Text),
                        Cell::Num(r.kpi.counts.area_km2),
                    ];
                    row.extend(kpi_cells(&r.kpi));
                    row
                })
                .collect();
            let geometry = vec![None; rows.len()];
            Table { columns, rows, geometry }
        }
    }
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

/// Writes `layer` in `format`, limited to what `scope` may see; `counts` are the Atlas's grid
/// counts ([`kpi::grid_counts`], which the server caches per snapshot).
pub fn export(
    atlas: &Atlas,
    counts: &[Counts],
    targets: &Targets,
    layer: Layer,
    format: Format,
    lang: Lang,
    scope: &Scope,
) -> Result<Vec<u8>, ExportError> {
    let t = table(atlas, counts, targets, layer, scope);
    let header = |(key, zh): &(&'static str, &'static str)| if lang == Lang::Zh { *zh } else { *key };
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
        Format::Csv => {
            let mut out = String::from("\u{FEFF}");
            let has_geometry = t.geometry.iter().any(Option::is_some);
            let mut heads: Vec<&str> = t.columns.iter().map(header).collect();
            if has_geometry {
                heads.push(if lang == Lang::Zh { "几何（WKT）" } else { "wkt" });
            }
            out.push_str(&heads.join(","));
            out.push('\n');
            for (row, g) in t.rows.iter().zip(&t.geometry) {
                let mut fields: Vec<String> = row.iter().map(csv_field).collect();
                if has_geometry {
                    fields.push(g.as_ref().map_or(String::new(), |g| format!("\"{}\"", wkt(g))));
                }
                out.push_str(&fields.join(","));
                out.push('\n');
            }
            Ok(out.into_bytes())
        }
        Format::Xlsx => {
            let err = |e: rust_xlsxwriter::XlsxError| ExportError(e.to_string());
            let mut wb = rust_xlsxwriter::Workbook::new();
            let sheet_name = match (layer, lang) {
                (Layer::Grids, Lang::Zh) => "网格",
                (Layer::Buildings, Lang::Zh) => "建筑",
                (Layer::Streets, Lang::Zh) => "街道",
                (Layer::Communities, Lang::Zh) => "社区",
                (Layer::Grids, Lang::En) => "grids",
                (Layer::Buildings, Lang::En) => "buildings",
                (Layer::Streets, Lang::En) => "streets",
                (Layer::Communities, Lang::En) => "communities",
            };
            let ws = wb.add_worksheet();
            ws.set_name(sheet_name).map_err(err)?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, col) in t.columns.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, header(col), &bold).map_err(err)?;
            }
            for (r, row) in t.rows.iter().enumerate() {
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
            wb.save_to_buffer().map_err(err)
        }
    }
}
