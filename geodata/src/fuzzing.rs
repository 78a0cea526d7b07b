//! What the fuzz targets of every crate share (issue 18): each target first runs its seed
//! corpus (real-looking inputs and the inputs of bugs found, one file each under the crate's
//! `fuzz/corpus/<target>/`), then random inputs made by editing a seed byte by byte; each prints
//! how many inputs it ran. The targets are `#[test]`s over `bolero::check!()`, so `cargo test`
//! runs a bounded number of inputs and `bench/fuzz.sh` runs them for longer.

use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One edit of a seed: where (taken modulo its length), what (taken modulo 6) and the bytes.
pub type Edit = (u16, u8, Vec<u8>);

/// The files of `dir`, by name, with their bytes. Panics when the directory is missing or empty:
/// a target must never run without its seeds.
pub fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the seed corpus {}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the seed corpus {} is empty", dir.display());
    files
}

/// Runs `property` on every file of the corpus, naming the file when it fails.
pub fn run_corpus(target: &str, files: &[(String, Vec<u8>)], property: impl Fn(&[u8])) {
    for (name, bytes) in files {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(bytes))) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("fuzz {target}: the corpus file {name} fails: {msg}");
        }
    }
}

/// `seed` with `edits` applied: insert, overwrite, delete, repeat a span, or insert a word of
/// `dictionary` (the tokens that matter to the parser: quotes, separators, odd numbers).
pub fn mutate(seed: &[u8], edits: &[Edit], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for (at, op, bytes) in edits {
        let at = usize::from(*at) % (out.len() + 1);
        match op % 6 {
            0 => {
                out.splice(at..at, bytes.iter().copied());
            }
            1 => {
                let end = (at + bytes.len()).min(out.len());
                out.splice(at..end, bytes.iter().copied());
            }
            2 => {
                let end = (at + bytes.len().max(1)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + bytes.len().max(1)).min(out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            _ if dictionary.is_empty() => {}
            _ => {
                let word = dictionary[usize::from(bytes.first().copied().unwrap_or(0)) % dictionary.len()];
                out.splice(at..at, word.iter().copied());
            }
        }
    }
    out
}

/// Counts the inputs a target ran and prints the count when dropped (after the last input).
#[derive(Debug)]
pub struct Count {
    target: &'static str,
    inputs: AtomicUsize,
}

impl Count {
    /// A count for `target`.
    pub fn new(target: &'static str) -> Self {
        Self { target, inputs: AtomicUsize::new(0) }
    }

    /// One more input.
    pub fn add(&self) {
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            eprintln!("fuzz {}: {} inputs, no failure", self.target, self.inputs.load(Ordering::Relaxed));
        }
    }
}

/// `f` itself, typed as a property of a byte string (for the closures of [`fuzz_inputs!`]).
pub fn property<F: Fn(&[u8])>(f: F) -> F {
    f
}

/// One edit of a JSON document: which node (taken modulo their number), what to put there
/// (taken modulo 8: text, a number, null, a flag, an edge integer, nothing, the node wrapped in
/// an array, a new sibling key), and the text and number to use.
pub type JsonEdit = (u16, u8, String, f64);

/// The JSON pointers of every node of `v` but the root, depth first.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (k.replace('~', "~0").replace('/', "~1"), c)).collect(),
        Value::Array(a) => a.iter().enumerate().map(|(i, c)| (i.to_string(), c)).collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        let p = format!("{at}/{key}");
        out.push(p.clone());
        pointers(child, &p, out);
    }
}

/// `seed` with `edits` applied node by node: the document keeps its shape where the edits leave
/// it, so parsers get past their syntax and type checks to their own rules.
pub fn mutate_json(seed: &Value, edits: &[JsonEdit]) -> Value {
    let mut doc = seed.clone();
    for (at, op, text, number) in edits {
        let mut all = Vec::new();
        pointers(&doc, "", &mut all);
        let Some(p) = all.get(usize::from(*at) % all.len().max(1)).cloned() else { continue };
        let (parent, key) = p
            .rsplit_once('/')
            .map(|(a, b)| (a.to_string(), b.replace("~1", "/").replace("~0", "~")))
            .unwrap_or_default();
        let new = match op % 8 {
            0 => Value::String(text.clone()),
            1 => serde_json::Number::from_f64(*number).map_or(Value::String(text.clone()), Value::Number),
            2 => Value::Null,
            3 => Value::Bool(*number > 0.0),
            4 => [json!(0), json!(-1), json!(4_294_967_296u64), json!(u64::MAX), json!(i64::MIN), json!(1e300)]
                [text.len() % 6]
                .clone(),
            5 => {
                match doc.pointer_mut(&parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&key);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = key.parse::<usize>()
                            && i < a.len()
                        {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            6 => Value::Array(vec![doc.pointer(&p).cloned().unwrap_or_default()]),
            _ => {
                if let Some(Value::Object(m)) = doc.pointer_mut(&parent) {
                    m.insert(text.clone(), Value::Null);
                }
                continue;
            }
        };
        if let Some(node) = doc.pointer_mut(&p) {
            *node = new;
        }
    }
    doc
}

/// The input of a random pick and edits: seven picks in eight edit a seed, the others start
/// from nothing (the edits alone make the input).
pub fn seeded(seeds: &[(String, Vec<u8>)], pick: u16, edits: &[Edit], dictionary: &[&[u8]]) -> Vec<u8> {
    let base = match usize::from(pick) % (seeds.len() * 8).max(1) {
        i if i < seeds.len() * 7 => seeds[i % seeds.len()].1.as_slice(),
        _ => &[],
    };
    mutate(base, edits, dictionary)
}

/// The seeds that are JSON documents (a UTF-8 byte-order mark allowed), parsed.
pub fn json_seeds(seeds: &[(String, Vec<u8>)]) -> Vec<Value> {
    seeds
        .iter()
        .filter_map(|(_, b)| serde_json::from_slice(b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)).ok())
        .collect()
}

/// Runs a fuzz target: `property` on every seed (named when it fails), then on `n` random byte
/// edits of the seeds ([`seeded`]) and on `m` random node edits of those that are JSON
/// ([`mutate_json`]), and prints how many inputs ran. Expands to `bolero::check!()`, so the
/// calling crate has bolero among its dev-dependencies.
///
/// `fuzz_inputs!(target, &seeds, dictionary, (n, m), |bytes: &[u8]| …)`
#[macro_export]
macro_rules! fuzz_inputs {
    ($target:expr, $seeds:expr, $dict:expr, ($n:expr, $m:expr), $property:expr) => {{
        use $crate::fuzzing::{Count, Edit, JsonEdit, json_seeds, mutate_json, run_corpus, seeded};
        let (target, seeds, dict): (&'static str, &[(String, Vec<u8>)], &[&[u8]]) = ($target, $seeds, $dict);
        let property = $crate::fuzzing::property($property);
        let count = Count::new(target);
        run_corpus(target, seeds, |b: &[u8]| {
            count.add();
            property(b)
        });
        bolero::check!().with_type::<(u16, Vec<Edit>)>().with_iterations($n).for_each(|(pick, edits)| {
            count.add();
            property(&seeded(seeds, *pick, edits, dict));
        });
        let docs = json_seeds(seeds);
        if $m > 0 && !docs.is_empty() {
            bolero::check!().with_type::<(u16, Vec<JsonEdit>)>().with_iterations($m).for_each(|(pick, edits)| {
                count.add();
                let doc = mutate_json(&docs[usize::from(*pick) % docs.len()], edits);
                property(&serde_json::to_vec(&doc).unwrap_or_default());
            });
        }
    }};
}
