//! rota-load: drives a hub with simulated editors speaking the real protocol
//! and reports throughput, latency, memory and whether every editor ended
//! with the hub's roster. docs/performance.md shows how to run each
//! scenario and the latest figures.
//!
//! - `editor`: one simulated editor (a WebSocket client).
//! - `scenario`: the named scenarios and the end-of-run checks.
//! - `reader`: simulated history readers (`--history-readers`).
//! - `hub`: the hub under load (given, or started here).
//! - `report`: percentiles and the table / JSON output.
//! - `fairness`: one attacker beside honest editors (`--attack`), with
//!   `honest` (the honest editors), `attack` and `attackers` (the attacks),
//!   `wire` (their connections and frames), `delivery` (honest readers
//!   timing the broadcast, slow-readers) and `fair_report` (its report).
//! - `published`: staff sent the published view beside editors sent the
//!   draft (issue 22), with `viewer` (their connections, and what each
//!   was sent) and `pub_report` (its report).

mod attack;
mod attackers;
mod delivery;
mod editor;
mod fair_report;
mod fairness;
mod honest;
mod hub;
mod pub_report;
mod published;
mod reader;
mod report;
mod scenario;
mod viewer;
mod wire;

use clap::Parser;
use scenario::{Opts, Scenario};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rota-load",
    about = "Load generator for a rota hub: simulated editors on the real protocol"
)]
struct Cli {
    /// fanout (one writer, N-1 watchers, paced), throughput (M writers on
    /// distinct cells, as fast as acks allow), contention (M writers on the
    /// same 4 cells), connections (N idle editors), catchup (an editor that
    /// missed K edits comes back), snapshot (new editors load a full roster),
    /// fairness (honest editors beside one attacker, --attack), published
    /// (a 200-cell publication fanned out to N-1 staff editors, alternated
    /// with the same edit as a draft to N-1 editors).
    #[arg(long, default_value = "fanout")]
    scenario: String,

    /// fairness: none, big-parts, big-parts-same, big-parts-rejected,
    /// big-edits, cursors, parts-budget, non-readers, history-flood,
    /// slow-readers or slow-readers-baseline (the same writer and honest
    /// readers without the 1,500 sockets never read). Its hub is started
    /// here with the default limits.
    #[arg(long, default_value = "none", value_name = "KIND")]
    attack: String,

    /// Hub to load, ws://HOST:PORT. Default: start `rota --serve` (the
    /// binary beside this one, or ROTA_BIN) on a temporary data dir.
    #[arg(long, value_name = "URL")]
    server: Option<String>,

    /// Editors connected at once (default 50; published: 200 per roster,
    /// the admin and N-1 staff or editors).
    #[arg(long, value_name = "N")]
    clients: Option<usize>,

    /// How many of them write (throughput, contention).
    #[arg(long, default_value_t = 50)]
    writers: usize,

    /// Edits in all (split among the writers); catchup: edits missed per
    /// round. Default: 1000 (catchup 2000), or --duration.
    #[arg(long, value_name = "K", conflicts_with = "duration")]
    edits: Option<usize>,

    /// Write for this many seconds instead of a number of edits.
    #[arg(long, value_name = "S")]
    duration: Option<f64>,

    /// Edits per second per writer (default: paced for fanout, else as fast
    /// as acks allow).
    #[arg(long, value_name = "R", conflicts_with = "paced")]
    rate: Option<f64>,

    /// Each writer waits until its edit has reached every other editor
    /// before the next (fanout's default).
    #[arg(long)]
    paced: bool,

    /// Unanswered edits a writer may have when not paced or rated.
    #[arg(long, default_value_t = 32)]
    window: usize,

    /// Roster size STAFFxDAYS (snapshot default: 150x364).
    #[arg(long, value_name = "STAFFxDAYS")]
    roster_size: Option<String>,

    /// Repetitions for catchup and snapshot (default 5), rounds for
    /// published (default 50).
    #[arg(long, value_name = "N")]
    runs: Option<usize>,

    /// Roster name (default: a new one per run).
    #[arg(long)]
    roster: Option<String>,

    /// Editors that keep asking for cell histories (4 at a time each) while
    /// the writers write (fanout, throughput, contention).
    #[arg(long, default_value_t = 0, value_name = "N")]
    history_readers: usize,

    /// Before the run, fill every cell of the roster as one edit (sent in
    /// parts): one large imported batch for history to read.
    #[arg(long)]
    import: bool,

    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,

    /// Another hub on the same database (ws://HOST:PORT), repeatable: the
    /// editors are spread over --server and these in turn, editor i on hub
    /// i mod hubs (fanout's one writer, editor 0, on --server), for
    /// fanout, throughput, contention and connections.
    #[arg(long, value_name = "URL")]
    also: Vec<String>,
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("--roster-size `{s}`: expected STAFFxDAYS, e.g. 150x364"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--roster-size `{s}`: `{v}` is not a positive number"))
    };
    Ok((n(a)?, n(b)?))
}

fn opts(cli: &Cli) -> Result<Opts, String> {
    let scenario = Scenario::parse(&cli.scenario)?;
    let default_size = match scenario {
        Scenario::Snapshot => (150, 364),
        _ => (50, 364),
    };
    let (staff, days) = match &cli.roster_size {
        Some(s) => parse_size(s)?,
        None => default_size,
    };
    let duration = cli.duration.map(Duration::from_secs_f64);
    let edits = match (cli.edits, duration) {
        (Some(k), _) => Some(k),
        (None, Some(_)) => None,
        (None, None) if scenario == Scenario::Catchup => Some(2000),
        (None, None) => Some(1000),
    };
    let roster = cli.roster.clone().unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("load-{}-{t}", scenario.name())
    });
    rota::domain::check_roster_name(&roster)?;
    Ok(Opts {
        scenario,
        clients: cli.clients.unwrap_or(50).max(1),
        writers: cli.writers,
        edits,
        duration,
        rate: cli.rate,
        paced: cli.paced,
        window: cli.window.clamp(1, rota::protocol::MAX_IN_FLIGHT),
        staff,
        days,
        runs: cli.runs.unwrap_or(5),
        roster,
        history_readers: cli.history_readers,
        import: cli.import,
        also: cli
            .also
            .iter()
            .map(|u| hub::HubUnderTest::remote(u).map(|h| h.url.clone()))
            .collect::<Result<_, _>>()?,
    })
}

fn main() {
    let cli = Cli::parse();
    let opts = match opts(&cli) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rota-load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rota-load: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    if opts.scenario == Scenario::Fairness {
        std::process::exit(runtime.block_on(fairness(&cli)));
    }
    if opts.scenario == Scenario::Published {
        std::process::exit(runtime.block_on(published(&cli)));
    }
    let code = runtime.block_on(async {
        let hub = match &cli.server {
            Some(url) => hub::HubUnderTest::remote(url),
            None => hub::HubUnderTest::start_own(opts.clients + 100),
        };
        let hub = match hub {
            Ok(h) => h,
            Err(e) => {
                eprintln!("rota-load: {e}");
                return 2;
            }
        };
        let report = scenario::run(&opts, &hub).await;
        if cli.json {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        } else {
            print!("{}", report.table());
        }
        if report.ok() { 0 } else { 1 }
    });
    std::process::exit(code);
}

/// The fairness scenario: its own hub, its own report.
async fn fairness(cli: &Cli) -> i32 {
    let attack = match attack::Attack::parse(&cli.attack) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rota-load: --attack: {e}");
            return 2;
        }
    };
    if cli.server.is_some() {
        eprintln!("rota-load: fairness starts its own hub (default limits): drop --server");
        return 2;
    }
    let duration = Duration::from_secs_f64(cli.duration.unwrap_or(10.0).max(0.1));
    let report = fairness::run(attack, duration).await;
    if cli.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print!("{}", report.table());
    }
    if report.ok() { 0 } else { 1 }
}

/// The published scenario: its own hub (its accounts written before it
/// starts), its own report.
async fn published(cli: &Cli) -> i32 {
    if cli.server.is_some() {
        eprintln!(
            "rota-load: published starts its own hub (its accounts are made before it starts): drop --server"
        );
        return 2;
    }
    let clients = cli.clients.unwrap_or(200).max(2);
    let report = published::run(clients, cli.runs.unwrap_or(50)).await;
    if cli.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print!("{}", report.table());
    }
    if report.ok() { 0 } else { 1 }
}
