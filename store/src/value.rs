//! Values as the store's SQL binds and reads them, the same on every backend: a statement's
//! parameters are [`Value`]s, and a result row is a [`Row`] of them, read by column name with the
//! conversions each backend needs (a date is a `DATE` on PostGIS and `YYYY-MM-DD` text in a
//! GeoPackage; a flag is a `BOOLEAN` or an integer).

use crate::dates::parse_date;
use crate::{Cell, Result, StoreError};
use geo::Geometry;
use std::sync::Arc;
use time::Date;

/// A value bound to a statement or read from a row. Each kind keeps its kind when NULL, so a
/// backend can type a NULL parameter and a column of a bulk write.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A flag.
    Bool(Option<bool>),
    /// A whole number.
    Int(Option<i64>),
    /// A real number.
    Real(Option<f64>),
    /// Text.
    Text(Option<String>),
    /// A calendar day.
    Date(Option<Date>),
    /// A geometry in WGS84 (EPSG:4326).
    Geom(Option<Box<Geometry<f64>>>),
    /// A JSON document (a serde type written out).
    Json(Option<serde_json::Value>),
    /// A column of a bulk write, values of one kind (PostGIS binds it as an array).
    Array(Vec<Value>),
}

impl Value {
    /// True for a NULL of any kind.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Bool(v) => v.is_none(),
            Value::Int(v) => v.is_none(),
            Value::Real(v) => v.is_none(),
            Value::Text(v) => v.is_none(),
            Value::Date(v) => v.is_none(),
            Value::Geom(v) => v.is_none(),
            Value::Json(v) => v.is_none(),
            Value::Array(_) => false,
        }
    }

    /// A JSON document of a serde value.
    pub fn json<T: serde::Serialize>(v: &T) -> Result<Value> {
        let doc = serde_json::to_value(v).map_err(|e| StoreError::Corrupt {
            what: "JSON document",
            id: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Value::Json(Some(doc)))
    }
}

macro_rules! value_from {
    ($($t:ty => $kind:ident $(via $conv:expr)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$kind(Some(value_from!(@conv v $(, $conv)?)))
            }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Value {
                Value::$kind(v.map(|v| value_from!(@conv v $(, $conv)?)))
            }
        }
    )*};
    (@conv $v:ident) => { $v };
    (@conv $v:ident, $conv:expr) => { ($conv)($v) };
}

value_from! {
    bool => Bool,
    i64 => Int,
    u32 => Int via i64::from,
    u16 => Int via i64::from,
    f64 => Real,
    String => Text,
    &str => Text via str::to_owned,
    &String => Text via String::clone,
    Date => Date,
}

impl From<Geometry<f64>> for Value {
    fn from(g: Geometry<f64>) -> Value {
        Value::Geom(Some(Box::new(g)))
    }
}

/// A result row: its values by position, and the columns' names.
#[derive(Debug, Clone)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

fn corrupt(col: &str, reason: String) -> StoreError {
    StoreError::Corrupt { what: "row", id: col.to_string(), reason }
}

impl Row {
    /// A row of `values` under `names`.
    pub fn new(names: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { names, values }
    }

    /// The value of column `col`.
    pub fn get(&self, col: &str) -> Result<&Value> {
        self.names
            .iter()
            .position(|n| n == col)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| corrupt(col, "no such column".into()))
    }

    /// The value at position `i`.
    pub fn at(&self, i: usize) -> Result<&Value> {
        self.values.get(i).ok_or_else(|| corrupt(&i.to_string(), "no such column".into()))
    }

    /// A whole number or NULL.
    pub fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        match self.get(col)? {
            Value::Int(v) => Ok(*v),
            Value::Bool(v) => Ok(v.map(i64::from)),
            v if v.is_null() => Ok(None),
            v => Err(corrupt(col, format!("expected a whole number, found {v:?}"))),
        }
    }

    /// A whole number.
    pub fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?.ok_or_else(|| corrupt(col, "is NULL".into()))
    }

    /// A whole number in `u32` or NULL.
    pub fn opt_u32(&self, col: &str) -> Result<Option<u32>> {
        self.opt_int(col)?
            .map(|v| u32::try_from(v).map_err(|_| corrupt(col, format!("{v} is out of range"))))
            .transpose()
    }

    /// A whole number in `u32`.
    pub fn u32(&self, col: &str) -> Result<u32> {
        self.opt_u32(col)?.ok_or_else(|| corrupt(col, "is NULL".into()))
    }

    /// A real number (a whole number reads as one).
    pub fn real(&self, col: &str) -> Result<f64> {
        match self.get(col)? {
            Value::Real(Some(v)) => Ok(*v),
            Value::Int(Some(v)) => Ok(*v as f64),
            v => Err(corrupt(col, format!("expected a number, found {v:?}"))),
        }
    }

    /// A flag (a whole number reads as one: not zero is true).
    pub fn bool(&self, col: &str) -> Result<bool> {
        match self.get(col)? {
            Value::Bool(Some(v)) => Ok(*v),
            Value::Int(Some(v)) => Ok(*v != 0),
            v => Err(corrupt(col, format!("expected a flag, found {v:?}"))),
        }
    }

    /// Text or NULL.
    pub fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.get(col)? {
            Value::Text(v) => Ok(v.clone()),
            v if v.is_null() => Ok(None),
            v => Err(corrupt(col, format!("expected text, found {v:?}"))),
        }
    }

    /// Text.
    pub fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| corrupt(col, "is NULL".into()))
    }

    /// A calendar day (`YYYY-MM-DD` text reads as one) or NULL.
    pub fn opt_date(&self, col: &str) -> Result<Option<Date>> {
        match self.get(col)? {
            Value::Date(v) => Ok(*v),
            Value::Text(Some(s)) => parse_date(s).map(Some).ok_or_else(|| corrupt(col, format!("date {s:?}"))),
            v if v.is_null() => Ok(None),
            v => Err(corrupt(col, format!("expected a date, found {v:?}"))),
        }
    }

    /// A calendar day.
    pub fn date(&self, col: &str) -> Result<Date> {
        self.opt_date(col)?.ok_or_else(|| corrupt(col, "is NULL".into()))
    }

    /// A geometry.
    pub fn geom(&self, col: &str) -> Result<Geometry<f64>> {
        match self.get(col)? {
            Value::Geom(Some(g)) => Ok((**g).clone()),
            v => Err(corrupt(col, format!("expected a geometry, found {:?}", std::mem::discriminant(v)))),
        }
    }

    /// A JSON document read into a serde type (JSON text reads as one).
    pub fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T> {
        let parsed = match self.get(col)? {
            Value::Json(Some(doc)) => T::deserialize(doc).map_err(|e| e.to_string()),
            Value::Text(Some(s)) => serde_json::from_str(s).map_err(|e| e.to_string()),
            v => Err(format!("expected a JSON document, found {v:?}")),
        };
        parsed.map_err(|reason| corrupt(col, reason))
    }

    /// The row as cells of a ledger export: a flag is 0 or 1, a date its `YYYY-MM-DD`, and a
    /// point its longitude and latitude, each a cell of its own.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::with_capacity(self.values.len());
        for v in &self.values {
            match v {
                Value::Bool(Some(b)) => out.push(Cell::Int(i64::from(*b))),
                Value::Int(Some(i)) => out.push(Cell::Int(*i)),
                Value::Real(Some(x)) => out.push(Cell::Num(*x)),
                Value::Text(Some(s)) => out.push(Cell::Text(s.clone())),
                Value::Date(Some(d)) => out.push(Cell::Text(crate::dates::fmt_date(*d))),
                Value::Json(Some(j)) => out.push(Cell::Text(j.to_string())),
                Value::Geom(Some(g)) => match &**g {
                    Geometry::Point(p) => out.extend([Cell::Num(p.x()), Cell::Num(p.y())]),
                    other => out.push(Cell::Text(format!("{other:?}"))),
                },
                _ => out.push(Cell::Null),
            }
        }
        out
    }
}

/// What takes each row of a query whose rows are handed on as they come.
pub type Each<'a> = dyn FnMut(Row) -> Result<()> + Send + 'a;

/// Reads the rows a backend returned: each non-NULL value by `decode(row, position, type name)`.
pub(crate) fn read_rows<R: sqlx::Row>(rows: Vec<R>, decode: fn(&R, usize, &str) -> Result<Value>) -> Result<Vec<Row>>
where
    usize: sqlx::ColumnIndex<R>,
{
    let mut names = None;
    rows.iter().map(|r| read_row(r, &mut names, decode)).collect()
}

/// Reads one row a backend returned, as [`read_rows`]; `names` keeps the column names of the
/// first row for the rows after it.
fn read_row<R: sqlx::Row>(
    r: &R,
    names: &mut Option<Arc<[String]>>,
    decode: fn(&R, usize, &str) -> Result<Value>,
) -> Result<Row>
where
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::{Column, TypeInfo, ValueRef};
    let names =
        names.get_or_insert_with(|| r.columns().iter().map(|c| c.name().to_owned()).collect::<Vec<_>>().into()).clone();
    let values = (0..r.len())
        .map(|i| {
            let raw = r.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Text(None));
            }
            let ty = raw.type_info().name().to_owned();
            decode(r, i, &ty)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Row::new(names, values))
}

/// Reads the rows of `rows`, a backend's stream of them, as [`read_rows`] does, handing each to
/// `each` as it comes; returns how many there were.
pub(crate) async fn each_row<R: sqlx::Row>(
    mut rows: impl futures_util::Stream<Item = std::result::Result<R, sqlx::Error>> + Unpin,
    decode: fn(&R, usize, &str) -> Result<Value>,
    each: &mut Each<'_>,
) -> Result<u64>
where
    usize: sqlx::ColumnIndex<R>,
{
    use futures_util::TryStreamExt;
    let (mut names, mut n) = (None, 0);
    while let Some(r) = rows.try_next().await? {
        each(read_row(&r, &mut names, decode)?)?;
        n += 1;
    }
    Ok(n)
}
