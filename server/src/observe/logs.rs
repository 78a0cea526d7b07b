//! The log: events to stderr, filtered by `RUST_LOG` (default [`DEFAULT_FILTER`]), as text for
//! people or as JSON for a log collector ([`LogFormat`]). A request's events carry its span's
//! fields: its id, method, route and path.

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is not set: rentgrid's events from `info` up, including the one
/// line per answered request (target [`ACCESS_TARGET`]), and only warnings of the HTTP library.
pub const DEFAULT_FILTER: &str = "rentgrid=info,tower_http=warn";

/// The target of the one event per answered request (silence it with
/// `RUST_LOG=rentgrid=info,rentgrid::access=warn`).
pub const ACCESS_TARGET: &str = "rentgrid::access";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people: time, level, the span's fields, the message.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields (its
    /// `message` among them), and `span` with the request's `id`, `method`, `route` and `path`.
    Json,
}

/// Sends the process's events to stderr in `format`. Call it once, first thing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}
