//! A statement as the store writes it once for every backend: SQL text with the parameters in
//! place. The backend writes each parameter's placeholder (`?` or `$n`, a geometry wrapped as
//! the backend stores it) when it runs the statement.

use crate::value::Value;

/// A piece of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// SQL text.
    Text(String),
    /// A parameter.
    Param(Value),
}

/// A statement under construction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    parts: Vec<Part>,
}

impl Sql {
    /// A statement starting with `text`.
    pub fn new(text: impl Into<String>) -> Sql {
        Sql { parts: vec![Part::Text(text.into())] }
    }

    /// Appends SQL text.
    pub fn push(mut self, text: impl AsRef<str>) -> Sql {
        self.parts.push(Part::Text(text.as_ref().to_owned()));
        self
    }

    /// Appends a parameter.
    pub fn bind(mut self, v: impl Into<Value>) -> Sql {
        self.parts.push(Part::Param(v.into()));
        self
    }

    /// Appends `(p, p, …)`: a parenthesised list of parameters.
    pub fn list<V: Into<Value>>(mut self, vs: impl IntoIterator<Item = V>) -> Sql {
        self.parts.push(Part::Text("(".into()));
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                self.parts.push(Part::Text(", ".into()));
            }
            self.parts.push(Part::Param(v.into()));
        }
        self.parts.push(Part::Text(")".into()));
        self
    }

    /// Appends `VALUES (…), (…)`: one parenthesised list per row.
    pub fn values(mut self, rows: impl IntoIterator<Item = Vec<Value>>) -> Sql {
        self = self.push("VALUES ");
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self = self.push(", ");
            }
            self = self.list(row);
        }
        self
    }

    /// The statement's text, each parameter written by `placeholder(number from 1, value)`, and
    /// the parameters in order.
    pub fn render(self, mut placeholder: impl FnMut(usize, &Value) -> String) -> (String, Vec<Value>) {
        let mut text = String::new();
        let mut params = Vec::new();
        for p in self.parts {
            match p {
                Part::Text(t) => text.push_str(&t),
                Part::Param(v) => {
                    text.push_str(&placeholder(params.len() + 1, &v));
                    params.push(v);
                }
            }
        }
        (text, params)
    }
}

/// A bulk write of rows into one table: the backend writes it as `VALUES` lists or as arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulk<'a> {
    /// The table.
    pub table: &'a str,
    /// Its columns, in the order of each row's values.
    pub columns: &'a [&'a str],
    /// What follows the rows (an `ON CONFLICT` clause), or nothing.
    pub tail: &'a str,
}
