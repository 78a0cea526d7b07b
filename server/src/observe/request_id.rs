//! Each request's id: the one its client sent in `x-request-id` when that is well formed
//! ([`RequestId::parse`]), else a new random one ([`RequestId::generate`]). The HTTP layer puts
//! it into the request's log span, its response's header and, through [`current`], the body of
//! every error answer, so that a user's report of an error can be found in the log.

use std::fmt;

/// The header that carries a request's id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest id a client may send.
pub const MAX_LEN: usize = 64;

/// A request's id: 1 to [`MAX_LEN`] characters, each an ASCII letter, a digit or one of `-_.:`
/// (a UUID, a ULID, a trace id), so it is safe in a header, a log line and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The id a client sent, if it is well formed (`None`: too long, empty, or a character
    /// outside letters, digits and `-_.:`).
    pub fn parse(sent: &[u8]) -> Option<Self> {
        let ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        let fits = (1..=MAX_LEN).contains(&sent.len()) && sent.iter().all(ok);
        // Every byte is ASCII, so the text is valid UTF-8.
        fits.then(|| Self(String::from_utf8_lossy(sent).into_owned()))
    }

    /// A new random id, a version 4 UUID in its usual text form.
    pub fn generate() -> Self {
        let mut b: [u8; 16] = rand::random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(36);
        for (i, x) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(HEX[usize::from(x >> 4)]));
            text.push(char::from(HEX[usize::from(x & 0x0f)]));
        }
        Self(text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    /// The id of the request whose future is running.
    static CURRENT: RequestId;
}

/// Runs `fut` as the request `id`: [`current`] answers `id` within it.
pub async fn scope<F: Future>(id: RequestId, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The id of the request being answered (`None` outside one, e.g. in the CLI).
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_id_is_kept_only_when_well_formed() {
        for good in ["a", "0b5e2c9e-54b5-4f9b-9d7a-2f0c6c1d2e3f", "01HZX3K5Q8W6Y2N4M7P9R1T3V5", "trace:span.1_2"] {
            assert_eq!(RequestId::parse(good.as_bytes()).map(|r| r.0), Some(good.to_owned()));
        }
        let long = "x".repeat(MAX_LEN + 1);
        for bad in ["", long.as_str(), "a b", "a\nb", "a\u{7f}", "<script>", "a\"b", "é", "a/b"] {
            assert_eq!(RequestId::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert!(RequestId::parse("x".repeat(MAX_LEN).as_bytes()).is_some());
    }

    #[test]
    fn generated_ids_are_uuids_that_parse_and_differ() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str().as_bytes()), Some(a.clone()));
        let parts: Vec<usize> = a.as_str().split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a.as_str()[14..15], "4", "version 4: {a}");
    }

    #[tokio::test]
    async fn current_names_the_request_within_its_scope_only() {
        assert_eq!(current(), None);
        let id = RequestId::generate();
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some(id.as_str()));
    }
}
