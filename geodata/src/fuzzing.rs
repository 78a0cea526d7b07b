//! What the fuzz targets of every crate share (issue 18): each target first runs its seed
//! corpus (real-looking inputs and the inputs of bugs found, one file each under the crate's
//! `fuzz/corpus/<target>/`), then random inputs made by editing a seed byte by byte; each prints
//! how many inputs it ran. The targets are `#[test]`s over `bolero::check!()`, so `cargo test`
//! runs a bounded number of inputs and `bench/fuzz.sh` runs them for longer.

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
