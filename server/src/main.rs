//! `rentgrid`: serve the map and API, generate the demo city, migrate the store.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rentgrid_analysis::hazard::HazardKinds;
use rentgrid_analysis::kpi::Targets;
use rentgrid_analysis::unrecorded::{self, UnrecordedParams};
use rentgrid_geodata::demo::{DEFAULT_AS_OF, DEFAULT_SEED, DemoOptions};
use rentgrid_server::access::Role;
use rentgrid_server::access::demo_users::DEMO_USERS;
use rentgrid_server::access::lockout::Policy;
use rentgrid_server::access::session::Timeouts;
use rentgrid_server::atlas_file::AtlasFile;
use rentgrid_server::export::{self, Format, Lang, Layer};
use rentgrid_server::hazard_photos::PhotoDir;
use rentgrid_server::identity::{Actor, Identity, NewUserRequest, system_clock};
use rentgrid_server::ingest::{self, Kind};
use rentgrid_server::limits::Limits;
use rentgrid_server::observe::logs::LogFormat;
use rentgrid_server::serve::{self, Connections};
use rentgrid_server::startup::{self, StoreLocation};
use rentgrid_server::store::dates::parse_date;
use rentgrid_server::store::gpkg::{FILE_NAME, GpkgStore, LEGACY_FILE_NAME};
use rentgrid_server::store::{Store, StoreError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// mimalloc rather than the system allocator: building a tile allocates many short-lived vectors
/// on several threads at once, which glibc's malloc serves markedly slower.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// rentgrid: rental housing and grid management (出租房屋与网格化管理) on one map.
///
/// Districts register migrant residents and rental housing, divide their territory into grids
/// (网格) and send caseworkers (综管员) street by street. rentgrid keeps the register, shows
/// every grid coloured by its KPIs, and serves the data to the web map, QGIS and GDAL.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    /// How log lines are written to stderr: text, for people, or json, one object per line for a
    /// log collector (with each request's id, method and route).
    #[arg(long, global = true, env = "RENTGRID_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// Where the register lives.
#[derive(clap::Args)]
struct StoreArgs {
    /// Data directory holding the embedded SQLite store (created if missing).
    #[arg(long, env = "RENTGRID_DATA", default_value = "data")]
    data: PathBuf,
    /// PostgreSQL/PostGIS database URL, e.g. postgres://rentgrid@localhost/haishu. When given, the
    /// register lives there and --data is not used.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

impl StoreArgs {
    fn location(&self) -> StoreLocation {
        match &self.database_url {
            Some(url) => StoreLocation::Postgis(url.clone()),
            None => StoreLocation::Sqlite(self.data.clone()),
        }
    }
}

/// Where reads that may lag a little go (`serve`).
#[derive(Args)]
struct ReadArgs {
    /// A streaming-replication standby of --database-url (postgres://…): the lists read from the
    /// store (person search, audit log, latest visits…) are read there, except a session's reads
    /// until the standby has replayed that session's writes, and every read while the standby is
    /// away or further behind than --read-max-lag.
    #[arg(long, env = "RENTGRID_READ_DATABASE_URL")]
    read_database_url: Option<String>,
    /// Seconds the standby's data may be older than the primary's for reads to go to it.
    #[arg(long, env = "RENTGRID_READ_MAX_LAG", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    read_max_lag: u64,
}

/// What one request and one connection may cost (`serve`).
#[derive(Args)]
struct LimitArgs {
    /// Seconds a request may run before it is answered 503 (imports and exports: 600).
    #[arg(long, env = "RENTGRID_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout: u64,
    /// Seconds a client may take to send a request's headers, or stay idle between requests.
    #[arg(long, env = "RENTGRID_HEADER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Connections open at once (the open-files limit is raised to allow them).
    #[arg(long, env = "RENTGRID_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Expensive requests (hot spots, proposals, campaigns, imports, exports) running at once;
    /// as many again per place may wait, more are answered 503. Default: the number of cores.
    #[arg(long, env = "RENTGRID_MAX_HEAVY", value_parser = clap::value_parser!(u64).range(1..))]
    max_heavy: Option<u64>,
    /// While writes arrive, seconds between two runs of one hot-spot analysis (its newest answer
    /// is served meanwhile, saying which data version it reflects).
    #[arg(long, env = "RENTGRID_ANALYSIS_INTERVAL", default_value_t = 10)]
    analysis_interval: u64,
    /// While writes arrive, seconds between two makings of the unrecorded estimate behind the
    /// estimated actual rates (the newest one is served meanwhile); 0: every write makes it
    /// again before the next request that reads it is answered.
    #[arg(long, env = "RENTGRID_ESTIMATE_INTERVAL", default_value_t = 10)]
    estimate_interval: u64,
    /// An estimate made off the request path takes at most one part in this many of a core:
    /// the next one also waits this many times the last one's making; 0: the interval alone.
    #[arg(long, env = "RENTGRID_ESTIMATE_SHARE", default_value_t = 3)]
    estimate_share: u32,
    /// How many nice levels (0–19) below the server the threads run that remake estimates, heat
    /// surfaces and hot spots off the request path, so that requests get the cores first; 0: at
    /// the server's priority.
    #[arg(long, env = "RENTGRID_BACKGROUND_NICE", default_value_t = rentgrid_server::background::DEFAULT_NICE,
          value_parser = clap::value_parser!(u8).range(0..=i64::from(rentgrid_server::background::MAX_NICE)))]
    background_nice: u8,
    /// Seconds the requests in flight are waited for at SIGTERM or Ctrl-C.
    #[arg(long, env = "RENTGRID_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    shutdown_timeout: u64,
}

impl LimitArgs {
    /// The per-request limits and the connection rules; the open-files limit raised to match and
    /// the background threads' priority set.
    fn apply(&self) -> (Limits, Connections) {
        rentgrid_server::background::configure(self.background_nice);
        let mut limits = Limits {
            request_timeout: Duration::from_secs(self.request_timeout),
            analysis_interval: Duration::from_secs(self.analysis_interval),
            estimate_interval: Duration::from_secs(self.estimate_interval),
            estimate_share: self.estimate_share,
            ..Limits::default()
        };
        if let Some(n) = self.max_heavy {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            limits.heavy_at_once = n;
            limits.heavy_queue = n.saturating_mul(4);
        }
        let wanted = self.max_connections;
        // Room for the store's files and pool besides the connections.
        let max = match rlimit::increase_nofile_limit(wanted.saturating_add(256)) {
            Ok(files) if files < wanted.saturating_add(256) => {
                let max = files.saturating_sub(256).max(16);
                eprintln!("the open-files limit is {files}: taking at most {max} connections, not {wanted}");
                max
            }
            _ => wanted,
        };
        let connections = Connections {
            max: usize::try_from(max).unwrap_or(usize::MAX),
            header_timeout: Duration::from_secs(self.header_timeout),
            drain: Duration::from_secs(self.shutdown_timeout),
        };
        (limits, connections)
    }
}

/// `--public-url`: an http(s) URL with a host and no path, as the origin `scheme://host[:port]`.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let uri: axum::http::Uri = raw.parse().map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https");
    match (scheme, uri.authority(), uri.path()) {
        (Some(scheme), Some(host), "" | "/") if uri.query().is_none() => Ok(format!("{scheme}://{host}")),
        _ => Err(format!("{raw:?}: give the origin users reach the server at, e.g. https://rentgrid.example.cn")),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web map and the HTTP API. An empty data directory is seeded with the demo city.
    ///
    /// Example: rentgrid serve --data ./data --listen 127.0.0.1:8080
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on; port 0 picks a free port (the chosen URL is printed).
        #[arg(long, env = "RENTGRID_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory of the built web map (web-map/dist); without it only the API is served.
        #[arg(long, env = "RENTGRID_WEB")]
        web: Option<PathBuf>,
        /// KPI targets, e.g. `reg_rate=0.9,rental_rate=0.95` (defaults from the policy texts).
        #[arg(long, env = "RENTGRID_TARGETS")]
        targets: Option<String>,
        /// Seed of the demo city used to fill an empty store.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Size of that demo city (1 = ~1,000 grids, ~100k rental units).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Memory for built vector tiles, in MiB; 0 builds every tile on request (for measuring).
        #[arg(long, env = "RENTGRID_TILE_CACHE_MB", default_value_t = 256)]
        tile_cache_mb: u64,
        /// A session ends after this many minutes without a request.
        #[arg(long, env = "RENTGRID_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
        session_idle_minutes: u32,
        /// A session ends this many hours after login, however busy.
        #[arg(long, env = "RENTGRID_SESSION_MAX_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..))]
        session_max_hours: u32,
        /// The address of a reverse proxy in front (repeat, or comma-separated in the variable):
        /// a request from it is attributed to the client named in its X-Forwarded-For, for the
        /// lockout of addresses and the audit log. Without one, the peer address counts.
        #[arg(long = "trusted-proxy", env = "RENTGRID_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// The URL users reach the server at (`https://rentgrid.example.cn`), when it is behind a
        /// proxy: links in OGC and TileJSON answers are built from it, and a write from a page
        /// must come from it. Without it, links use the request's (checked) Host.
        #[arg(long, env = "RENTGRID_PUBLIC_URL", value_parser = parse_public_url)]
        public_url: Option<String>,
        /// The server is reached over HTTPS (a proxy ends TLS): answers carry
        /// Strict-Transport-Security.
        #[arg(long, env = "RENTGRID_BEHIND_HTTPS")]
        behind_https: bool,
        /// A JSON file with the kinds of hazard caseworkers record (code, name_zh, name_en, days
        /// to rectify per severity {minor, major, severe}, red_after_days); without it, the
        /// built-in list (fire exits, overcrowding, group renting, gas, electrical, e-bikes, other).
        #[arg(long, env = "RENTGRID_HAZARD_KINDS")]
        hazard_kinds: Option<PathBuf>,
        /// A Tianditu (天地图) key: the web map then offers Tianditu's vector map and imagery as
        /// basemaps besides the offline one (the default). Without it nothing is asked of Tianditu.
        #[arg(long, env = "RENTGRID_TIANDITU_KEY", value_parser = rentgrid_server::tianditu::TiandituKey::parse)]
        tianditu_key: Option<rentgrid_server::tianditu::TiandituKey>,
        /// Where hazard photos are kept (default: `photos` in the data directory).
        #[arg(long, env = "RENTGRID_PHOTO_DIR")]
        photo_dir: Option<PathBuf>,
        /// The largest photo kept, KiB.
        #[arg(long, env = "RENTGRID_PHOTO_MAX_KB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(16..=65536))]
        photo_max_kb: u64,
        /// Font files the map's labels are drawn with (OpenType or TrueType, collections too;
        /// repeat, or comma-separated in the variable). Default: Debian's Noto Sans CJK
        /// (package fonts-noto-cjk) where it is installed; with no font the map has no labels.
        #[arg(long = "fonts", env = "RENTGRID_FONTS", value_delimiter = ',')]
        fonts: Vec<PathBuf>,
        /// The Atlas snapshot file the server starts from when it holds what the store holds
        /// (written anew when it does not): default `rentgrid.atlas` in the data directory with
        /// the GeoPackage, none with PostgreSQL; `off` for none.
        #[arg(long, env = "RENTGRID_ATLAS_SNAPSHOT")]
        atlas_snapshot: Option<PathBuf>,
        #[command(flatten)]
        reads: ReadArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Generate the demo city (海曙区, Ningbo) into a data directory.
    ///
    /// The same seed and scale always give the same city. Example: rentgrid demo --data ./data --scale 0.2
    Demo {
        #[command(flatten)]
        store: StoreArgs,
        /// Random seed.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Size: 1 = ~1,000 grids and ~100k rental units; 20 = a city of ~2M rental units.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Last day of the 12 months of history (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<String>,
        /// Replace what the data directory holds.
        #[arg(long)]
        force: bool,
    },
    /// Import a GeoJSON layer or a ledger (台帐) into the store.
    ///
    /// Every row is checked first; by default nothing is written unless every row is good (all or
    /// nothing), and each bad row is listed with its row number, column and reason. A record whose
    /// key (编号, 网格编码, 身份证号, 工号, 走访编号…) is already stored is updated, not duplicated.
    /// A new district is imported in this order: boundaries, grids, buildings, workplaces, units,
    /// persons, caseworkers, visits. Example:
    /// rentgrid import units 出租房屋台帐.csv --crs gcj-02
    Import {
        /// What the file holds: `boundaries`, `grids`, `buildings` (GeoJSON); `units` (出租房屋台帐),
        /// `persons` (流动人口台帐), `caseworkers` (综管员花名册), `workplaces` (单位台帐), `visits`
        /// (走访记录) (XLSX or CSV).
        /// `all` imports every such file of a directory, in that order.
        #[arg(value_parser = ["boundaries", "grids", "buildings", "units", "persons", "caseworkers", "workplaces", "visits", "all"])]
        kind: String,
        /// The file: GeoJSON, or a ledger as an .xlsx workbook (first sheet) or CSV in UTF-8 (with or
        /// without BOM), GBK or GB18030. For `all`: a directory written by `rentgrid export all`.
        file: PathBuf,
        /// The file's text encoding, when detection guesses wrong: utf-8, gbk, gb18030.
        #[arg(long)]
        encoding: Option<String>,
        /// The coordinate system of 经度/纬度: wgs84, cgcs2000, gcj-02 (AMap, Tencent), bd-09 (Baidu).
        #[arg(long, default_value = "wgs84")]
        crs: String,
        /// Import the good rows and report the bad ones, instead of importing nothing.
        #[arg(long)]
        skip_invalid: bool,
        /// Also write the bad rows to this CSV file (row, column, reason).
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Export a layer or table as GeoJSON, CSV (UTF-8 with BOM) or XLSX.
    ///
    /// `all` writes the whole district into the directory --output, in the files and columns
    /// `rentgrid import all` reads back (GeoJSON layers, CSV or XLSX ledgers): the way to move a
    /// district from one store to another. Ledgers hold personal data: keep the files safe.
    /// Example: rentgrid export streets --format xlsx --output 街道考核.xlsx
    Export {
        /// grids, buildings, streets, communities, boundaries; the ledgers units, persons,
        /// caseworkers, workplaces, visits; or all.
        layer: String,
        /// geojson, csv or xlsx (for `all`: the ledgers' format, csv or xlsx).
        #[arg(long, default_value = "csv")]
        format: String,
        /// Where to write (for `all`: a directory).
        #[arg(long, short)]
        output: PathBuf,
        /// Header language of CSV and XLSX: zh or en.
        #[arg(long, default_value = "zh")]
        lang: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Apply the store's schema migrations: needed once for a new PostGIS database (the embedded
    /// SQLite store migrates itself).
    ///
    /// Example: rentgrid migrate --database-url postgres://rentgrid@localhost/haishu
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copy the embedded store to a new file while it serves: one consistent snapshot (SQLite's
    /// VACUUM INTO). For PostGIS use pg_dump (see the README's deployment section).
    ///
    /// Example: rentgrid backup --data ./data --output /backups/rentgrid-2026-12-03.gpkg
    Backup {
        /// Data directory holding rentgrid.gpkg.
        #[arg(long, env = "RENTGRID_DATA", default_value = "data")]
        data: PathBuf,
        /// The backup file to write (must not exist).
        #[arg(long)]
        output: PathBuf,
    },
    /// Put a backup back as the store of a data directory, replacing what it holds. The backup is
    /// checked whole first, and the old store stays as it was if anything fails. Stop the server
    /// first.
    ///
    /// Example: rentgrid restore --data ./data /backups/rentgrid-2026-12-03.gpkg
    Restore {
        /// Data directory to restore into.
        #[arg(long, env = "RENTGRID_DATA", default_value = "data")]
        data: PathBuf,
        /// The backup file (written by rentgrid backup).
        backup: PathBuf,
    },
    /// Manage the users who may log in: add, list, disable, set a password.
    ///
    /// Roles: center (the district), supervisor (--street), caseworker (--caseworker, their
    /// contracted grids), leader (aggregates), and the administrators sysadmin (users and
    /// tokens), secadmin (roles and scopes), auditor (the audit log). Example:
    /// echo 'a long passphrase' | rentgrid user add --username li --role supervisor --street 330203001000 --password-stdin
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log (留痕): `rentgrid audit verify` checks its hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write the OpenAPI 3.1 document of the HTTP API (what `GET /api` answers, without the
    /// caller's server URL) as JSON, to a file or to standard output.
    ///
    /// The web map's API types are generated from it: `rentgrid openapi --output web-map/openapi.json`.
    Openapi {
        /// The file to write; standard output when left out.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// Login name: letters, digits and _ . -
        #[arg(long)]
        username: String,
        /// center, supervisor, caseworker, leader, sysadmin, secadmin or auditor.
        #[arg(long)]
        role: String,
        /// The street code a supervisor answers for, e.g. 330203001000.
        #[arg(long)]
        street: Option<String>,
        /// Grid codes given explicitly, comma-separated.
        #[arg(long, value_delimiter = ',')]
        grids: Vec<String>,
        /// The caseworker id of a caseworker user (their contracted grids follow the contracts).
        #[arg(long)]
        caseworker: Option<u32>,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the users (never their passwords).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable a user: they can no longer log in, and their sessions and tokens stop working.
    Disable {
        /// Login name.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a user's password (from standard input); lifts a lockout and ends their sessions.
    Passwd {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain: exits 0 with "N rows, chain intact", or 1 naming the
    /// first row that was edited, removed or inserted by hand.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    let identity = Identity::default();
    match command {
        UserCommand::Add { username, role, street, grids, caseworker, password_stdin: _, store } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = password_from_stdin()?;
            let opened = startup::open_store(&store.location(), false).await?;
            let request = NewUserRequest { username: username.clone(), role, street, grids, caseworker, password };
            identity.add_user(opened.as_ref(), request, &Actor::Cli).await?;
            opened.close().await;
            eprintln!("added {username} ({role})");
        }
        UserCommand::List { store } => {
            let opened = startup::open_store(&store.location(), false).await?;
            println!("username\trole\tstreet\tgrids\tcaseworker\tstatus\tcreated");
            let now = identity.now();
            for u in opened.users().await? {
                let status = if u.disabled {
                    "disabled"
                } else if u.locked_until.is_some_and(|t| t > now) {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{status}\t{}",
                    u.username,
                    u.role,
                    u.street.unwrap_or_default(),
                    u.grids.join(","),
                    u.caseworker.map(|c| c.to_string()).unwrap_or_default(),
                    rentgrid_server::store::dates::fmt_instant(u.created_at)
                );
            }
            opened.close().await;
        }
        UserCommand::Disable { username, store } => {
            let opened = startup::open_store(&store.location(), false).await?;
            let now = identity.now();
            let event = Actor::Cli.event(now, "user_disable", format!("user {username}"));
            opened.set_disabled(&username, true, now, &event).await?;
            opened.close().await;
            eprintln!("disabled {username}: their sessions ended, their tokens no longer work");
        }
        UserCommand::Passwd { username, password_stdin: _, store } => {
            let password = password_from_stdin()?;
            let hash = rentgrid_server::identity::hash_password(&password).await?;
            let opened = startup::open_store(&store.location(), false).await?;
            let now = identity.now();
            let event = Actor::Cli.event(now, "user_passwd", format!("user {username}"));
            opened.set_password(&username, &hash, now, &event).await?;
            opened.close().await;
            eprintln!("set the password of {username}; their sessions ended");
        }
    }
    Ok(())
}

fn parse_targets(s: &str) -> anyhow::Result<Targets> {
    let mut t = Targets::default();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').with_context(|| format!("target {pair:?} is not name=value"))?;
        let v: f64 = v.trim().parse().with_context(|| format!("target {k} = {v:?} is not a number"))?;
        if !(0.0..=1.0).contains(&v) {
            bail!("target {k} = {v} must be a fraction between 0 and 1");
        }
        match k.trim() {
            "reg_rate" => t.reg_rate = v,
            "permit_rate" => t.permit_rate = v,
            "rental_rate" => t.rental_rate = v,
            "consistency_rate" => t.consistency_rate = v,
            "pledge_rate" => t.pledge_rate = v,
            other => {
                bail!("unknown target {other:?}: use reg_rate, permit_rate, rental_rate, consistency_rate, pledge_rate")
            }
        }
    }
    Ok(t)
}

fn bar() -> ProgressBar {
    let pb = ProgressBar::new(1000);
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg:32} [{bar:40}] {percent:>3}% {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

fn describe(at: &StoreLocation) -> String {
    match at {
        StoreLocation::Sqlite(dir) => dir.display().to_string(),
        StoreLocation::Postgis(url) => {
            url.split('@').next_back().map(|h| format!("postgres://…@{h}")).unwrap_or_default()
        }
    }
}

async fn seed(store: &dyn Store, at: &StoreLocation, opts: &DemoOptions) -> anyhow::Result<()> {
    opts.validate()?;
    if !store.is_empty().await? {
        bail!("{} already holds a district; pass --force to replace it", describe(at));
    }
    eprintln!("generating the demo city 海曙区 (seed {}, scale {}) into {}", opts.seed, opts.scale, describe(at));
    let gen_bar = bar();
    let mut on_gen = |stage: &str, f: f64| {
        gen_bar.set_message(stage.to_string());
        gen_bar.set_position((f * 1000.0) as u64);
    };
    let save_bar = Mutex::new(None::<ProgressBar>);
    let on_save = save_progress(&save_bar, "saving");
    let city = startup::seed_demo(store, opts, &mut on_gen, &on_save).await?;
    gen_bar.finish_and_clear();
    if let Ok(Some(pb)) = save_bar.lock().map(|mut s| s.take()) {
        pb.finish_and_clear();
    }
    let users = startup::seed_demo_users(store, &city, &Identity::default()).await?;
    eprintln!(
        "demo users: {users} ({}, and cw<id> for each caseworker; passwords as listed in the README)",
        DEMO_USERS.iter().map(|u| u.username).collect::<Vec<_>>().join(", ")
    );
    eprintln!(
        "demo city ready: {} streets, {} communities, {} grids, {} buildings, {} rental units, {} persons, {} caseworkers",
        city.streets.len(),
        city.communities.len(),
        city.grids.len(),
        city.buildings.len(),
        city.rental_units.len(),
        city.persons.len(),
        city.caseworkers.len()
    );
    Ok(())
}

/// Progress of store writes: a bar on a terminal, plain lines otherwise (logs, pipes).
fn save_progress<'a>(
    slot: &'a Mutex<Option<ProgressBar>>,
    verb: &'a str,
) -> impl Fn(&str, u64, u64) + Send + Sync + 'a {
    move |label: &str, done: u64, total: u64| {
        let Ok(mut slot) = slot.lock() else { return };
        let pb = slot.get_or_insert_with(bar);
        if pb.is_hidden() {
            eprintln!("{verb} {label} {done}/{total}");
        }
        pb.set_message(format!("{verb} {label}"));
        pb.set_position((done * 1000).checked_div(total).unwrap_or(1000));
    }
}

async fn import(
    kind: Kind,
    file: &Path,
    encoding: Option<&str>,
    crs: &str,
    skip_invalid: bool,
    report: Option<&Path>,
    at: &StoreLocation,
) -> anyhow::Result<()> {
    use rentgrid_geodata::import::table::Encoding;
    let encoding = encoding.map(str::parse::<Encoding>).transpose().map_err(anyhow::Error::msg)?;
    let crs: rentgrid_geodata::crs::Crs = crs.parse().map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = startup::open_store(at, false).await?;
    let atlas = match startup::load_atlas(store.as_ref()).await {
        Ok(a) => Some(a),
        Err(startup::StartupError::Store(StoreError::Empty)) => None,
        Err(e) => return Err(e.into()),
    };
    let opts = ingest::Options { encoding, crs, today: rentgrid_geodata::clock::today() };
    let checked = ingest::check(kind, &bytes, &opts, store.as_ref(), atlas.as_ref())
        .await
        .with_context(|| format!("{}", file.display()))?;
    if !checked.ignored_columns.is_empty() {
        eprintln!("ignoring columns rentgrid does not know: {}", checked.ignored_columns.join(", "));
    }
    let what = if kind.is_geojson() { "features" } else { "rows" };
    gate(file, &checked, what, skip_invalid, report)?;
    let encoding = checked.encoding.map(|e| format!("{e}, ")).unwrap_or_default();
    eprintln!("writing {} {} ({encoding}{})", checked.batch.len(), kind.noun(), describe(at));
    let save_bar = Mutex::new(None::<ProgressBar>);
    let target =
        format!("rentgrid import {} {}: {} {};", kind.as_str(), file.display(), checked.batch.len(), kind.noun());
    let event =
        Actor::Cli.event(time::OffsetDateTime::now_utc(), rentgrid_server::access::audit::action::IMPORT, target);
    let counts = ingest::write(store.as_ref(), &checked.batch, &event, &save_progress(&save_bar, "writing")).await?;
    if let Ok(Some(pb)) = save_bar.lock().map(|mut s| s.take()) {
        pb.finish_and_clear();
    }
    let landlords =
        if kind == Kind::Units { format!(", {} landlords added", counts.landlords_added) } else { String::new() };
    let skipped = if checked.bad > 0 { format!("; {} bad {what} skipped", checked.bad) } else { String::new() };
    eprintln!(
        "imported {} {}: {} new, {} updated{landlords}{skipped}",
        checked.batch.len(),
        kind.noun(),
        counts.inserted,
        counts.updated
    );
    Ok(())
}

/// Prints every problem, writes the report file, and refuses (all or nothing) unless told to
/// skip bad rows. Returns the number of bad rows (or features).
fn gate(
    file: &Path,
    checked: &ingest::Checked,
    what: &str,
    skip_invalid: bool,
    report: Option<&Path>,
) -> anyhow::Result<()> {
    let place = if what == "features" { "feature" } else { "row" };
    for e in &checked.errors {
        match &e.column {
            Some(c) => eprintln!("{}: {place} {}, column {c}: {}", file.display(), e.row, e.reason),
            None => eprintln!("{}: {place} {}: {}", file.display(), e.row, e.reason),
        }
    }
    if let Some(path) = report {
        let mut out = String::from("\u{FEFF}row,column,reason\n");
        for e in &checked.errors {
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            out.push_str(&format!("{},{},{}\n", e.row, q(e.column.as_deref().unwrap_or("")), q(&e.reason)));
        }
        std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (bad, total, good) = (checked.bad, checked.total, checked.batch.len());
    if bad > 0 && !skip_invalid {
        bail!(
            "nothing was imported: {bad} of {total} {what} have problems (listed above). Fix them, or pass \
             --skip-invalid to import the {good} good {what}"
        );
    }
    Ok(())
}

/// Writes one layer (ledgers straight from the store) to `path`; with `estimates`, the grids,
/// streets and communities carry the estimated actual rates (`export all` leaves them empty: its
/// files move the register, and the server reading them estimates from its own evidence).
async fn export_to(
    store: &dyn Store,
    atlas: &rentgrid_geodata::Atlas,
    layer: Layer,
    format: Format,
    lang: Lang,
    path: &Path,
    estimates: bool,
) -> anyhow::Result<()> {
    let bytes = match layer {
        Layer::Ledger(which) => export::export_ledger(which, store.ledger(which).await?, format, lang)?,
        _ => {
            let counts = rentgrid_analysis::kpi::grid_counts(atlas);
            let scope = rentgrid_server::scope::Scope::everything();
            let unrecorded = if estimates && matches!(layer, Layer::Grids | Layer::Streets | Layer::Communities) {
                let ev = store.evidence().await?;
                let evidence = rentgrid_server::state::evidence(&ev, rentgrid_geodata::clock::today());
                Some(unrecorded::estimate(atlas, &evidence, &UnrecordedParams::default())?)
            } else {
                None
            };
            let targets = Targets::default();
            let src = export::Sources { atlas, counts: &counts, targets: &targets, unrecorded: unrecorded.as_ref() };
            export::export(&src, layer, format, lang, &scope)?
        }
    };
    std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

fn remove_store(data: &Path) -> anyhow::Result<()> {
    for p in
        [FILE_NAME, LEGACY_FILE_NAME].iter().flat_map(|f| ["", "-wal", "-shm"].map(|s| data.join(format!("{f}{s}"))))
    {
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { store, seed: s, scale, as_of, force } => {
            let as_of = match as_of {
                None => DEFAULT_AS_OF,
                Some(d) => parse_date(&d).with_context(|| format!("--as-of {d:?} is not a date as YYYY-MM-DD"))?,
            };
            let opts = DemoOptions { seed: s, scale, as_of };
            opts.validate()?;
            let at = store.location();
            if force {
                match &at {
                    StoreLocation::Sqlite(dir) => remove_store(dir)?,
                    StoreLocation::Postgis(url) => {
                        rentgrid_server::store::postgis::PostgisStore::connect(url).await?.clear().await?;
                    }
                }
            }
            let opened = startup::open_store(&at, false).await?;
            seed(opened.as_ref(), &at, &opts).await?;
            opened.close().await;
            Ok(())
        }
        Command::Import { kind, file, encoding, crs, skip_invalid, report, store } => {
            let at = store.location();
            if kind == "all" {
                let mut any = false;
                for kind in Kind::ALL {
                    let candidates = if kind.is_geojson() { &["geojson", "json"][..] } else { &["csv", "xlsx"][..] };
                    for ext in candidates {
                        let path = file.join(format!("{}.{ext}", kind.as_str()));
                        if path.exists() {
                            any = true;
                            import(kind, &path, encoding.as_deref(), &crs, skip_invalid, report.as_deref(), &at)
                                .await?;
                        }
                    }
                }
                if !any {
                    bail!(
                        "{} holds none of boundaries.geojson, grids.geojson, buildings.geojson, units.csv …",
                        file.display()
                    );
                }
                return Ok(());
            }
            let kind: Kind = kind.parse().map_err(anyhow::Error::msg)?;
            import(kind, &file, encoding.as_deref(), &crs, skip_invalid, report.as_deref(), &at).await
        }
        Command::Export { layer, format, output, lang, store } => {
            let lang = match lang.as_str() {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                other => bail!("--lang {other:?}: use zh or en"),
            };
            let format: Format = format.parse().map_err(anyhow::Error::msg)?;
            let opened = startup::open_store(&store.location(), false).await?;
            let atlas = startup::load_atlas(opened.as_ref()).await?;
            if layer == "all" {
                if format == Format::GeoJson {
                    bail!("--format for `all` is the ledgers' format: csv or xlsx");
                }
                std::fs::create_dir_all(&output).with_context(|| format!("cannot create {}", output.display()))?;
                for layer in Layer::ALL.into_iter().filter(|l| !matches!(l, Layer::Streets | Layer::Communities)) {
                    let f = if matches!(layer, Layer::Ledger(_)) { format } else { Format::GeoJson };
                    let path = output.join(format!("{}.{}", layer.as_str(), f.extension()));
                    export_to(opened.as_ref(), &atlas, layer, f, lang, &path, false).await?;
                }
                return Ok(());
            }
            let layer: Layer = layer.parse().map_err(anyhow::Error::msg)?;
            export_to(opened.as_ref(), &atlas, layer, format, lang, &output, true).await
        }
        Command::Openapi { output } => {
            let text = rentgrid_server::api::openapi_json().context("the OpenAPI document does not serialise")?;
            match output {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => println!("{}", text.trim_end()),
            }
            Ok(())
        }
        Command::User { command } => user(command).await,
        Command::Audit { command: AuditCommand::Verify { store } } => {
            let opened = startup::open_store(&store.location(), false).await?;
            let verified = opened.verify_audit().await?;
            opened.close().await;
            match verified {
                Ok(n) => {
                    println!("{n} rows, chain intact");
                    Ok(())
                }
                Err(broken) => bail!("the audit log is broken: {broken}"),
            }
        }
        Command::Backup { data, output } => {
            let store = GpkgStore::open(&data).await?;
            let bytes = store.backup_to(&output).await?;
            eprintln!(
                "backed up {} to {} ({:.1} MB)",
                data.join(FILE_NAME).display(),
                output.display(),
                bytes as f64 / 1e6
            );
            Ok(())
        }
        Command::Restore { data, backup } => {
            let held = rentgrid_server::store::gpkg::restore(&backup, &data).await?;
            eprintln!(
                "restored {} into {}: {} grids, {} buildings, {} visits",
                backup.display(),
                data.join(FILE_NAME).display(),
                held.grids,
                held.buildings,
                held.visits
            );
            Ok(())
        }
        Command::Migrate { store } => {
            let at = store.location();
            startup::open_store(&at, true).await?;
            eprintln!("{} is at the current schema", describe(&at));
            Ok(())
        }
        Command::Serve {
            store,
            listen,
            web,
            targets,
            seed: s,
            scale,
            tile_cache_mb,
            session_idle_minutes,
            session_max_hours,
            trusted_proxies,
            public_url,
            behind_https,
            hazard_kinds,
            tianditu_key,
            photo_dir,
            photo_max_kb,
            fonts,
            reads,
            atlas_snapshot,
            limits,
        } => {
            if let Some(missing) = fonts.iter().find(|f| !f.is_file()) {
                anyhow::bail!("--fonts {}: no such file", missing.display());
            }
            let fonts = if fonts.is_empty() { rentgrid_server::glyphs::default_font_files() } else { fonts };
            if fonts.is_empty() {
                eprintln!(
                    "no fonts for map labels (Debian's fonts-noto-cjk is not installed and --fonts is not given): the \
                     map is drawn without place names"
                );
            }
            let kinds = match &hazard_kinds {
                None => HazardKinds::default(),
                Some(path) => read_hazard_kinds(path)?,
            };
            let photos = PhotoDir::new(photo_dir.unwrap_or_else(|| store.data.join("photos")), photo_max_kb * 1024);
            let (limits, connections) = limits.apply();
            let targets = targets.as_deref().map(parse_targets).transpose()?.unwrap_or_default();
            let web = web.or_else(|| Some(PathBuf::from("web-map/dist")).filter(|p| p.join("index.html").is_file()));
            let opts = DemoOptions { seed: s, scale, as_of: DEFAULT_AS_OF };
            opts.validate()?;
            let at = store.location();
            let atlas_file = match (atlas_snapshot, &at) {
                (Some(p), _) if p.as_os_str() == "off" => None,
                (Some(p), _) => Some(AtlasFile::new(p)),
                (None, StoreLocation::Sqlite(dir)) => Some(AtlasFile::in_data_dir(dir)),
                (None, StoreLocation::Postgis(_)) => None,
            };
            let store = startup::open_store(&at, false).await?;
            // A store that does not read whole is named and left alone, never seeded over.
            let unreadable = || match &at {
                StoreLocation::Sqlite(dir) => format!(
                    "{} does not read whole; it was left as it is: restore the last backup (rentgrid restore) or \
                     move it away",
                    dir.join(FILE_NAME).display()
                ),
                StoreLocation::Postgis(_) => format!("{} does not read whole", describe(&at)),
            };
            if store.is_empty().await.with_context(unreadable)? {
                eprintln!("{} holds no data yet: seeding the demo city", describe(&at));
                seed(store.as_ref(), &at, &opts).await?;
            }
            let standby = match (reads.read_database_url, &at) {
                (None, _) => None,
                (Some(_), StoreLocation::Sqlite(_)) => {
                    bail!("--read-database-url names a standby of a PostgreSQL primary: give --database-url too")
                }
                (Some(url), StoreLocation::Postgis(_)) => {
                    let standby_at = StoreLocation::Postgis(url);
                    let standby = startup::open_store(&standby_at, false)
                        .await
                        .with_context(|| format!("the standby {} cannot be read", describe(&standby_at)))?;
                    eprintln!("reading lists from the standby {} when it is up to date", describe(&standby_at));
                    let max_lag = Duration::from_secs(reads.read_max_lag);
                    let cookie = rentgrid_server::api::identity::SESSION_COOKIE;
                    Some(rentgrid_server::standby::Standby::new(store.clone(), standby, max_lag, cookie))
                }
            };
            let timeouts = Timeouts {
                idle: time::Duration::minutes(session_idle_minutes.into()),
                absolute: time::Duration::hours(session_max_hours.into()),
            };
            let identity =
                Identity::new(timeouts, Policy::default(), system_clock()).with_trusted_proxies(trusted_proxies);
            if let Some(password) = startup::ensure_first_admin(store.as_ref(), &identity).await? {
                let line = "=".repeat(72);
                eprintln!(
                    "{line}\nfirst start: created the administrator {:?} (role sysadmin)\n  one-time password: \
                     {password}\nIt is shown only now. Log in, then set your own with\n  rentgrid user passwd \
                     --username {} --password-stdin\n{line}",
                    startup::FIRST_ADMIN,
                    startup::FIRST_ADMIN
                );
            }
            let (state, _) =
                startup::state_from(store, targets, web.clone(), atlas_file).await.with_context(unreadable)?;
            let state = state
                .with_tile_cache(tile_cache_mb.saturating_mul(1 << 20))
                .with_identity(identity)
                .with_limits(limits)
                .with_public_origin(public_url)
                .with_https(behind_https)
                .with_tianditu(tianditu_key)
                .with_hazards(kinds, Some(photos))
                .with_fonts(fonts);
            match &web {
                Some(w) => eprintln!("serving the web map from {}", w.display()),
                None => eprintln!("web map not built (web-map/dist): serving the API only"),
            }
            // The signal handlers first: a stop asked for as soon as the server says it listens is
            // a graceful one. At the signal the open event streams end too, or they would hold up
            // the drain.
            let events = state.events().clone();
            let shutdown = events.close_after(shutdown_signal());
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            println!("listening on http://{addr}");
            // Each request with its peer address, for the lockout of source addresses and the audit log.
            let store = state.store().clone();
            // The writes of other servers on the same database, from its change log.
            let follower = tokio::spawn(rentgrid_server::follow::follow(state.clone()));
            // The inputs of the history and the estimate, read off the start-up path, then the
            // hot spots the leaders' view opens with, so that its first leader need not wait.
            let reading = tokio::spawn({
                let state = state.clone();
                async move {
                    state.clone().read_view_inputs().await;
                    rentgrid_server::api::prepare_leaders_view(&state).await;
                }
            });
            let (app, prober) = match standby {
                Some(standby) => {
                    let prober = tokio::spawn(standby.clone().probe());
                    let route = axum::middleware::from_fn_with_state(standby, rentgrid_server::standby::route);
                    (rentgrid_server::app(state).layer(route), Some(prober))
                }
                None => (rentgrid_server::app(state), None),
            };
            serve::serve(listener, app, connections, shutdown).await?;
            follower.abort();
            reading.abort();
            if let Some(p) = prober {
                p.abort();
            }
            // Closed, a GeoPackage folds its write-ahead log into the file (a request still
            // running after the drain is not waited for).
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), store.close()).await;
            Ok(())
        }
    }
}

/// The kinds of hazard in the JSON file at `path`, checked.
fn read_hazard_kinds(path: &std::path::Path) -> anyhow::Result<HazardKinds> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let kinds: Vec<rentgrid_analysis::hazard::HazardKind> =
        serde_json::from_str(&text).with_context(|| format!("{}: not a list of hazard kinds", path.display()))?;
    HazardKinds::new(kinds).with_context(|| format!("{}", path.display()))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    rentgrid_server::observe::logs::init(cli.log_format);
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM (systemd, Docker, Kubernetes): the server then stops
/// accepting connections and finishes the requests in flight before it exits. The handlers are
/// installed when this is called, not when the future is first polled: a signal that comes
/// before the accept loop first waits (a test, or a supervisor, stopping a server just started)
/// is a graceful stop too, never the default action's kill.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        [signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok()]
    };
    async move {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = signals;
            let received = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {}
                () = received(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping: finishing the requests in flight");
    }
}
