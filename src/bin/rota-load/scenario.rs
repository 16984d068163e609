//! The named scenarios: set up a roster, run the editors, then check that
//! every editor's roster equals the hub's and that no edit was lost or
//! applied twice.

use crate::editor::{self, CODES, Cell, Editor, Pacing, Shared, WritePlan};
use crate::hub::HubUnderTest;
use crate::reader;
use crate::report::{Percentiles, Report};
use futures_util::SinkExt;
use rota::domain::{Date, Op, Seq, ShiftCode};
use rota::protocol::{ClientMsg, MAX_OPS_PER_BATCH, ServerMsg};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scenario {
    Fanout,
    Contention,
    Throughput,
    Connections,
    Catchup,
    Snapshot,
    /// Run by fairness.rs, with a report of its own.
    Fairness,
    /// Run by published.rs, with a report of its own.
    Published,
}

impl Scenario {
    pub fn parse(s: &str) -> Result<Scenario, String> {
        Ok(match s {
            "fanout" => Scenario::Fanout,
            "contention" => Scenario::Contention,
            "throughput" => Scenario::Throughput,
            "connections" => Scenario::Connections,
            "catchup" => Scenario::Catchup,
            "snapshot" => Scenario::Snapshot,
            "fairness" => Scenario::Fairness,
            "published" => Scenario::Published,
            _ => {
                return Err(format!(
                    "unknown scenario `{s}`: fanout, contention, throughput, connections, catchup, snapshot, fairness or published"
                ));
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fanout => "fanout",
            Scenario::Contention => "contention",
            Scenario::Throughput => "throughput",
            Scenario::Connections => "connections",
            Scenario::Catchup => "catchup",
            Scenario::Snapshot => "snapshot",
            Scenario::Fairness => "fairness",
            Scenario::Published => "published",
        }
    }
}

/// A run's settings, from the flags.
#[derive(Clone, Debug)]
pub struct Opts {
    pub scenario: Scenario,
    pub clients: usize,
    pub writers: usize,
    pub edits: Option<usize>,
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub paced: bool,
    pub window: usize,
    pub staff: usize,
    pub days: usize,
    pub runs: usize,
    pub roster: String,
    pub history_readers: usize,
    pub import: bool,
    /// Other hubs on the same database: editors are spread over them.
    pub also: Vec<String>,
}

/// How many editors connect at once.
const CONNECT_CONCURRENCY: usize = 128;

pub async fn run(opts: &Opts, hub: &HubUnderTest) -> Report {
    let mut report = Report {
        scenario: opts.scenario.name().into(),
        hub: hub.url.clone(),
        clients: opts.clients,
        writers: opts.writers,
        converged: true,
        ..Report::default()
    };
    let result = match opts.scenario {
        Scenario::Catchup => catchup(opts, hub, &mut report).await,
        Scenario::Snapshot => snapshot(opts, hub, &mut report).await,
        Scenario::Fairness => Err("fairness is run by fairness::run".into()),
        Scenario::Published => Err("published is run by published::run".into()),
        _ => live(opts, hub, &mut report).await,
    };
    if let Err(e) = result {
        report.failures.push(e);
    }
    // The connections scenario weighs the hub while everyone is connected.
    if report.hub_rss_mb.is_none() {
        report.hub_rss_mb = hub.rss_mb().await;
    }
    report
}

/// Cell `i` of the STAFF x DAYS grid.
fn cell(opts: &Opts, i: usize) -> Cell {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let day = (i % opts.days) as u64;
    (
        format!("s{}", i / opts.days % opts.staff + 1),
        Date(start + chrono::Days::new(day)),
    )
}

/// Staff s1..sSTAFF and codes D, N, OFF; with `fill`, every cell of the
/// grid set. Returns the roster's seq.
async fn setup(opts: &Opts, url: &str, fill: bool) -> Result<Seq, String> {
    // Client ids are new for each run (the roster's name is): a hub answers
    // a (client, op id) it has seen before with its first answer.
    let mut j = editor::join(url, &format!("{}-setup", opts.roster), &opts.roster, 0).await?;
    let mut ops: Vec<Op> = CODES
        .iter()
        .map(|c| Op::PutCode {
            code: ShiftCode::new(c, 8.0, *c != "OFF"),
            base: None,
        })
        .collect();
    ops.extend((1..=opts.staff).map(|i| Op::AddStaff {
        id: format!("s{i}"),
        name: format!("Person {i}"),
        group: String::new(),
        order: None,
    }));
    if fill {
        ops.extend((0..opts.staff * opts.days).map(|i| {
            let (staff, date) = cell(opts, i);
            Op::SetCell {
                staff,
                date,
                code: Some(CODES[i % 3].into()),
                base: 0,
            }
        }));
    }
    let mut seq = 0;
    for (n, chunk) in ops.chunks(MAX_OPS_PER_BATCH).enumerate() {
        let msg = ClientMsg::Edit {
            op_id: n as u64 + 1,
            ops: chunk.to_vec(),
            note: Some("rota-load setup".into()),
            force: true,
            more: false,
            part: None,
        };
        editor::send(&mut j.ws, &msg).await?;
        seq = acked(&mut j.ws, Duration::from_secs(120), "setting up the roster").await?;
    }
    Ok(seq)
}

/// Every cell of the grid set as one edit, in parts: one large batch, as an
/// import makes.
async fn import(opts: &Opts, url: &str) -> Result<Seq, String> {
    let mut j = editor::join(url, &format!("{}-import", opts.roster), &opts.roster, 0).await?;
    let ops: Vec<Op> = (0..opts.staff * opts.days)
        .map(|i| {
            let (staff, date) = cell(opts, i);
            Op::SetCell {
                staff,
                date,
                code: Some(CODES[(i + 1) % 3].into()),
                base: 0,
            }
        })
        .collect();
    for frame in rota::protocol::encode_edit_parts(1, Some("rota-load import"), true, &ops) {
        j.ws.send(tokio_tungstenite::tungstenite::Message::Text(frame.into()))
            .await
            .map_err(|e| format!("import: send: {e}"))?;
    }
    acked(&mut j.ws, Duration::from_secs(300), "import").await
}

/// The seq of the ack that answers the edit just sent (other messages
/// skipped), or why it was refused.
async fn acked(ws: &mut editor::Ws, within: Duration, what: &str) -> Result<Seq, String> {
    loop {
        match editor::next_msg(ws, within).await? {
            ServerMsg::Ack { seq, .. } => return Ok(seq),
            ServerMsg::Rejected { message, .. } | ServerMsg::Error { message, .. } => {
                return Err(format!("{what}: {message}"));
            }
            _ => {}
        }
    }
}

/// The hub's cells now (a fresh editor's snapshot).
async fn hub_cells(url: &str, roster: &str) -> Result<HashMap<Cell, String>, String> {
    let j = editor::join(url, &format!("{roster}-check"), roster, u64::MAX).await?;
    let mut e = Editor::new(usize::MAX);
    e.welcome(j.welcome, None);
    Ok(codes_of(&e))
}

fn codes_of(e: &Editor) -> HashMap<Cell, String> {
    e.cells
        .iter()
        .filter_map(|(k, (c, _))| c.clone().map(|c| (k.clone(), c)))
        .collect()
}

/// Connects `n` editors, editor i to `urls[i % urls.len()]`.
async fn connect_all(
    opts: &Opts,
    urls: &[String],
    n: usize,
) -> Result<(Vec<(Editor, editor::Ws)>, Vec<u32>), String> {
    let mut out = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    let indexes: Vec<usize> = (0..n).collect();
    for batch in indexes.chunks(CONNECT_CONCURRENCY) {
        let joins = batch.iter().map(|&i| {
            let url = urls[i % urls.len().max(1)].clone();
            let roster = opts.roster.clone();
            tokio::spawn(
                async move { editor::join(&url, &format!("{roster}-c{i}"), &roster, 0).await },
            )
        });
        for (k, h) in futures_util::future::join_all(joins)
            .await
            .into_iter()
            .enumerate()
        {
            let j = h.map_err(|e| format!("join task: {e}"))??;
            let mut ed = Editor::new(batch[k]);
            times.push(j.total.as_micros() as u32);
            ed.welcome(j.welcome, None);
            out.push((ed, j.ws));
        }
    }
    Ok((out, times))
}

/// fanout, throughput, contention, connections: everyone connected at once.
async fn live(opts: &Opts, hub: &HubUnderTest, report: &mut Report) -> Result<(), String> {
    let n = opts.clients.max(1);
    let writers = match opts.scenario {
        Scenario::Fanout => 1,
        Scenario::Connections => 0,
        _ => opts.writers.clamp(1, n),
    };
    report.writers = writers;
    setup(opts, &hub.url, false).await?;
    if opts.import {
        let started = Instant::now();
        import(opts, &hub.url).await?;
        report.import_s = Some(started.elapsed().as_secs_f64());
    }
    report.hub_rss_start_mb = hub.rss_mb().await;
    let urls: Vec<String> = std::iter::once(hub.url.clone())
        .chain(opts.also.iter().cloned())
        .collect();
    let (editors, connect) = connect_all(opts, &urls, n).await?;
    report.connect_ms = Percentiles::of_micros(connect);
    if opts.scenario == Scenario::Connections {
        // Let the hub settle its buffers, then weigh it.
        report.hub_rss_mb = hub.rss_mb().await;
        if let (Some(end), Some(start)) = (report.hub_rss_mb, report.hub_rss_start_mb) {
            report.per_connection_kib = Some((end - start) * 1e6 / 1024.0 / n as f64);
        }
    }
    let capacity = match opts.edits {
        Some(k) => k + writers,
        None => 4_000_000,
    };
    let paced = opts.rate.is_none() && (opts.paced || opts.scenario == Scenario::Fanout);
    let mut shared = Shared::new(n, (n - 1) as u32, capacity, paced);
    // Throughput times the hub: editors book each change as it comes and
    // apply them all after the run.
    shared.defer = opts.scenario == Scenario::Throughput;
    let shared = Arc::new(shared);
    let grid = opts.staff * opts.days;
    let per_writer = opts.edits.map(|k| k.div_ceil(writers.max(1)));
    let (go_tx, go_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let until = opts.duration.map(|d| Instant::now() + d);
    let mut tasks = Vec::with_capacity(n);
    for (ed, ws) in editors {
        let plan = (ed.index < writers).then(|| {
            let cells: Vec<Cell> = match opts.scenario {
                Scenario::Contention => (0..4.min(grid)).map(|i| cell(opts, i)).collect(),
                Scenario::Fanout => (0..grid).map(|i| cell(opts, i)).collect(),
                _ => (ed.index..grid)
                    .step_by(writers)
                    .map(|i| cell(opts, i))
                    .collect(),
            };
            let pacing = match (opts.rate, opts.paced, opts.scenario) {
                (Some(r), _, _) => Pacing::Rate(r),
                (None, true, _) | (None, _, Scenario::Fanout) => Pacing::Paced,
                (None, false, Scenario::Contention) => Pacing::Window(1),
                _ => Pacing::Window(opts.window),
            };
            WritePlan {
                cells,
                pacing,
                edits: per_writer,
                until,
            }
        });
        tasks.push(tokio::spawn(editor::run(
            ed,
            ws,
            plan,
            shared.clone(),
            go_rx.clone(),
            stop_rx.clone(),
        )));
    }
    let mut readers = Vec::with_capacity(opts.history_readers);
    for r in 0..opts.history_readers {
        let client = format!("{}-r{r}", opts.roster);
        let j = editor::join(&hub.url, &client, &opts.roster, u64::MAX).await?;
        let grid = reader::Grid {
            staff: opts.staff,
            days: opts.days,
            start: cell(opts, 0).1,
        };
        readers.push(tokio::spawn(reader::run(
            j.ws,
            grid,
            r as u64 + 1,
            go_rx.clone(),
            stop_rx.clone(),
        )));
    }
    let started = Instant::now();
    let _ = go_tx.send(true);
    let limit = opts.duration.unwrap_or(Duration::ZERO) + Duration::from_secs(600);
    let mut progress = shared.progress.subscribe();
    // Writers done, then everyone caught up to the last seq acknowledged.
    let done = wait_for(&mut progress, limit, || {
        shared.writers_done.load(Ordering::Acquire) >= writers
            || shared.failed.load(Ordering::Acquire) > 0
    })
    .await;
    let elapsed = started.elapsed();
    shared.settling.store(true, Ordering::Release);
    let top = shared.top_seq.load(Ordering::Acquire);
    let caught_up = wait_for(&mut progress, Duration::from_secs(120), || {
        shared.seqs.iter().all(|s| s.load(Ordering::Acquire) >= top)
            || shared.failed.load(Ordering::Acquire) > 0
    })
    .await;
    let _ = stop_tx.send(true);
    let mut editors = Vec::with_capacity(n);
    for t in tasks {
        editors.push(t.await.map_err(|e| format!("editor task: {e}"))?);
    }
    if !readers.is_empty() {
        let mut all = Vec::new();
        for r in readers {
            let reads = r.await.map_err(|e| format!("reader task: {e}"))?;
            all.extend(reads.latencies_us);
            report.failures.extend(reads.errors);
        }
        report.history_ms = Some(Percentiles::of_micros(all));
    }
    if !done {
        report
            .failures
            .push("writers did not finish in time".into());
    }
    if !caught_up {
        report
            .failures
            .push("editors did not all reach the last seq in time".into());
    }
    tally(report, &editors, &shared, elapsed);
    if report.unchanged > 0 && opts.scenario != Scenario::Contention {
        // Every edit of these scenarios sets a cell to a new code; one that
        // changed nothing means the writers' view of their cells is wrong.
        report.failures.push(format!(
            "{} acknowledged edits changed nothing",
            report.unchanged
        ));
    }
    let hub_cells = hub_cells(&hub.url, &opts.roster).await?;
    report.converged = editors.iter().all(|e| codes_of(e) == hub_cells);
    Ok(())
}

/// Waits (bounded) until `done()` holds, looking again at each progress bump.
async fn wait_for(
    progress: &mut watch::Receiver<u64>,
    limit: Duration,
    done: impl Fn() -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Ok(Ok(())) => {}
            _ => return done(),
        }
    }
}

fn tally(report: &mut Report, editors: &[Editor], shared: &Shared, elapsed: Duration) {
    report.duration_s = elapsed.as_secs_f64();
    report.edits = editors.iter().map(|e| e.sent).sum();
    report.conflicts = editors.iter().map(|e| e.conflicts).sum();
    let acked: Vec<(usize, Seq)> = editors
        .iter()
        .flat_map(|e| e.acked.iter().copied())
        .collect();
    report.acked = acked.len();
    report.acked_per_s = acked.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    report.ack_ms = Percentiles::of_micros(
        editors
            .iter()
            .flat_map(|e| e.ack_us.iter().copied())
            .collect(),
    );
    report.fanout_ms = Percentiles::of_micros(
        editors
            .iter()
            .flat_map(|e| e.deliveries.iter().map(|d| d.1))
            .collect(),
    );
    // Deliveries and the slowest one, per edit, from every editor.
    let mut seen = vec![0u32; shared.capacity.min(shared.next_id.load(Ordering::Acquire))];
    let mut slowest = vec![0u32; seen.len()];
    for (id, delay) in editors.iter().flat_map(|e| e.deliveries.iter()) {
        if let Some(n) = seen.get_mut(*id as usize) {
            *n += 1;
            slowest[*id as usize] = slowest[*id as usize].max(*delay);
        }
    }
    // An ack whose seq another ack also has changed nothing (nothing was
    // broadcast); every other acked edit must have reached every editor.
    let mut by_seq: HashMap<Seq, usize> = HashMap::new();
    for (_, s) in &acked {
        *by_seq.entry(*s).or_default() += 1;
    }
    let mut ids = HashSet::new();
    let mut last = Vec::new();
    for (id, seq) in &acked {
        if !ids.insert(*id) {
            report.duplicated += 1;
        }
        if by_seq.get(seq) != Some(&1) {
            report.unchanged += 1;
            continue;
        }
        let n = seen.get(*id).copied().unwrap_or(0);
        report.lost += shared.observers.saturating_sub(n) as usize;
        if n >= shared.observers && shared.observers > 0 {
            last.push(slowest[*id]);
        }
    }
    report.fanout_last_ms = Percentiles::of_micros(last);
    report.duplicated += editors.iter().map(|e| e.duplicated).sum::<usize>();
    for e in editors {
        report.failures.extend(e.failures.iter().cloned());
    }
}

/// An editor that missed K edits comes back, `runs` times.
async fn catchup(opts: &Opts, hub: &HubUnderTest, report: &mut Report) -> Result<(), String> {
    let k = opts.edits.unwrap_or(2000);
    report.writers = 1;
    report.clients = 2;
    setup(opts, &hub.url, false).await?;
    let j = editor::join(
        &hub.url,
        &format!("{}-returner", opts.roster),
        &opts.roster,
        0,
    )
    .await?;
    let mut returner = Editor::new(1);
    returner.welcome(j.welcome, None);
    drop(j.ws);
    let grid = opts.staff * opts.days;
    let mut times = Vec::new();
    let mut connect = Vec::new();
    let mut writer = Editor::new(0);
    let mut writer_ws = {
        let j = editor::join(
            &hub.url,
            &format!("{}-writer", opts.roster),
            &opts.roster,
            0,
        )
        .await?;
        writer.welcome(j.welcome, None);
        j.ws
    };
    let started = Instant::now();
    for round in 0..opts.runs.max(1) {
        // The writer makes K edits while the returner is away.
        writer.sent = 0;
        let shared = Arc::new(Shared::new(1, 0, k + 1, false));
        let plan = WritePlan {
            cells: (0..grid)
                .map(|i| cell(opts, (i + round * k) % grid))
                .collect(),
            pacing: Pacing::Window(opts.window),
            edits: Some(k),
            until: None,
        };
        let (go_tx, go_rx) = watch::channel(true);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut progress = shared.progress.subscribe();
        let task = tokio::spawn(editor::run(
            writer,
            writer_ws,
            Some(plan),
            shared.clone(),
            go_rx,
            stop_rx,
        ));
        let done = wait_for(&mut progress, Duration::from_secs(600), || {
            shared.writers_done.load(Ordering::Acquire) >= 1
                || shared.failed.load(Ordering::Acquire) > 0
        })
        .await;
        let _ = stop_tx.send(true);
        drop(go_tx);
        writer = task.await.map_err(|e| format!("writer task: {e}"))?;
        if !done {
            return Err("the writer did not finish in time".into());
        }
        report.edits += writer.sent;
        report.acked = writer.acked.len();
        report.failures.append(&mut writer.failures);
        // The writer's socket was closed by run(); join again for the next round.
        let j = editor::join(
            &hub.url,
            &format!("{}-writer", opts.roster),
            &opts.roster,
            writer.seq,
        )
        .await?;
        writer.welcome(j.welcome, None);
        writer_ws = j.ws;
        // The returner catches up.
        let j = editor::join(
            &hub.url,
            &format!("{}-returner", opts.roster),
            &opts.roster,
            returner.seq,
        )
        .await?;
        let applied = Instant::now();
        let changes =
            matches!(&j.welcome, ServerMsg::Welcome { changes: Some(c), .. } if !c.is_empty());
        if !changes {
            report
                .failures
                .push("the returner got a snapshot, not the missed changes".into());
        }
        returner.welcome(j.welcome, None);
        times.push((j.welcome_time + applied.elapsed()).as_micros() as u32);
        connect.push(j.total.as_micros() as u32);
    }
    report.duration_s = started.elapsed().as_secs_f64();
    report.acked_per_s = report.acked as f64 / report.duration_s.max(1e-9);
    report.ack_ms = Percentiles::of_micros(writer.ack_us.clone());
    report.catchup_ms = Some(Percentiles::of_micros(times));
    report.catchup_edits = Some(k);
    report.connect_ms = Percentiles::of_micros(connect);
    report.duplicated += returner.duplicated + writer.duplicated;
    report.failures.extend(returner.failures.iter().cloned());
    let hub_cells = hub_cells(&hub.url, &opts.roster).await?;
    report.converged = codes_of(&returner) == hub_cells && codes_of(&writer) == hub_cells;
    Ok(())
}

/// New editors load a fully filled STAFF x DAYS roster, `runs` times.
async fn snapshot(opts: &Opts, hub: &HubUnderTest, report: &mut Report) -> Result<(), String> {
    report.writers = 0;
    report.clients = opts.runs.max(1);
    setup(opts, &hub.url, true).await?;
    let want = hub_cells(&hub.url, &opts.roster).await?;
    let mut times = Vec::new();
    let mut connect = Vec::new();
    for r in 0..opts.runs.max(1) {
        let j = editor::join(
            &hub.url,
            &format!("{}-new{r}", opts.roster),
            &opts.roster,
            0,
        )
        .await?;
        let applied = Instant::now();
        let mut e = Editor::new(r);
        e.welcome(j.welcome, None);
        times.push((j.welcome_time + applied.elapsed()).as_micros() as u32);
        connect.push(j.total.as_micros() as u32);
        if codes_of(&e) != want {
            report.converged = false;
        }
    }
    report.snapshot_ms = Some(Percentiles::of_micros(times));
    report.snapshot_cells = Some(want.len());
    report.connect_ms = Percentiles::of_micros(connect);
    if want.len() != opts.staff * opts.days {
        report.failures.push(format!(
            "the roster has {} cells, not {}",
            want.len(),
            opts.staff * opts.days
        ));
    }
    Ok(())
}
