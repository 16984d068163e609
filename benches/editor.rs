//! The editor's benchmarks: `cargo bench --bench editor [FILTER]`.
//!
//! - `frame`: drawing a 250x70 screen of a 500 x 366 roster, and of a
//!   25 x 42 one (the cost must not depend on the roster's size), and of
//!   the 500 x 366 roster with about 50 rules: the totals column and the
//!   coverage rows, folded and one per code and group.
//! - `key`: a key handled (key map, update) and the frame drawn.
//! - `remote`: a code set in one editor until a second editor's view shows
//!   it, through a hub on loopback.
//! - `view`: reading the visible window of the view while a 100,000-cell
//!   remote change is received and stored.
//! - `process`: the real binary in tmux: resident memory with a 500 x 366
//!   roster (first sync and from the cache), start-up to the first frame
//!   (`--demo`, a 150 x 364 roster from the cache), CPU when idle.
//!
//! Each prints the median and p99 (and the worst) of the same run.

mod common;

use common::{hub_process, report_us as report, tempdir, wanted};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rota::domain::{Author, Date, Op, Roster, ShiftCode};
use rota::sync::{HubAddr, SyncConfig, SyncEngine, SyncEvent, ViewReader};
use rota::tui::action::Action;
use rota::tui::action::Command;
use rota::tui::config::Config;
use rota::tui::keys::action_for;
use rota::tui::state::{CoverageShown, State};
use rota::tui::theme::Theme;
use rota::tui::update::update;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CODES: [&str; 6] = ["D", "N", "OFF", "AL", "E", "L"];

fn day(i: usize) -> Date {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default();
    Date(start + chrono::Days::new(i as u64))
}

fn setup_ops(staff: usize) -> Vec<Op> {
    let mut ops: Vec<Op> = CODES
        .iter()
        .map(|c| Op::PutCode {
            code: ShiftCode::new(c, 8.0, true),
            base: None,
        })
        .collect();
    ops.extend((0..staff).map(|i| Op::AddStaff {
        id: format!("p{i:03}"),
        name: format!("Person {i}"),
        group: format!("Group {}", i / 50),
        order: Some(i as i64),
    }));
    ops
}

fn cell_ops(staff: usize, days: usize, shift: usize) -> Vec<Op> {
    let mut ops = Vec::with_capacity(staff * days);
    for i in 0..staff {
        for d in 0..days {
            ops.push(Op::SetCell {
                staff: format!("p{i:03}"),
                date: day(d),
                code: Some(CODES[(i + d + shift) % CODES.len()].to_string()),
                base: 0,
            });
        }
    }
    ops
}

fn roster(staff: usize, days: usize) -> Roster {
    let mut r = Roster::default();
    let author = Author {
        user: Arc::from("bench"),
        client: Arc::from("bench-client"),
    };
    let mut ops = setup_ops(staff);
    ops.extend(cell_ops(staff, days, 0));
    if r.apply_batch_with(&ops, &author, 0, true).is_err() {
        panic!("the bench roster applies");
    }
    r
}

fn state(view: ViewReader, w: u16, h: u16) -> State {
    let mut s = State::new("bench", "ann", view, Config::default(), day(20), 0);
    update(&mut s, Action::Resize(w, h));
    s
}

/// A 250x70 editor over `r`, its theme, and a test terminal to draw on.
fn screen(r: Roster) -> (State, Theme, Terminal<TestBackend>) {
    screen_of(ViewReader::detached(r))
}

fn screen_of(view: ViewReader) -> (State, Theme, Terminal<TestBackend>) {
    let s = state(view, 250, 70);
    let t = match Terminal::new(TestBackend::new(250, 70)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    (s, Theme::new(true), t)
}

/// Draws frames of each roster in turn (so that the machine's drifts in
/// speed fall on all alike), moving the cursor between frames as a user
/// would.
fn frames(rosters: Vec<(&str, ViewReader, Option<CoverageShown>)>) {
    let mut screens: Vec<_> = rosters
        .into_iter()
        .map(|(name, view, cover)| {
            let (mut s, theme, t) = screen_of(view);
            s.coverage_shown = cover;
            (name, (s, theme, t), Vec::with_capacity(3000))
        })
        .collect();
    for i in 0..3100 {
        let cmd = if (i / 20) % 2 == 0 {
            Command::Down
        } else {
            Command::Up
        };
        for (_, (s, theme, t), times) in screens.iter_mut() {
            update(s, Action::Do(cmd));
            let start = Instant::now();
            let _ = t.draw(|f| rota::tui::view::draw(f, s, theme));
            if i >= 100 {
                times.push(start.elapsed());
            }
        }
    }
    for (name, _, times) in screens {
        report(name, times);
    }
}

fn key_to_frame(r: Roster) {
    let (mut s, theme, mut t) = screen(r);
    let mut times = Vec::with_capacity(3000);
    for i in 0..3100 {
        let key = if (i / 30) % 2 == 0 { 'l' } else { 'h' };
        let ev = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(key),
            crossterm::event::KeyModifiers::NONE,
        );
        let start = Instant::now();
        if let Some(a) = action_for(&s, ev) {
            // The effects (sharing the cursor) go to the worker thread in
            // the editor; the frame does not wait for them.
            let _ = update(&mut s, a);
        }
        let _ = t.draw(|f| rota::tui::view::draw(f, &s, &theme));
        if i >= 100 {
            times.push(start.elapsed());
        }
    }
    report("key to frame, 500 x 366, 250x70", times);
}

fn engine(url: &str, user: &str, dir: &Path) -> SyncEngine {
    let mut c = SyncConfig::new(HubAddr::Url(url.into()), user, "default", &dir.join(user));
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    match SyncEngine::start(c) {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    }
}

async fn connected(e: &SyncEngine) {
    let (_, ok) = e
        .wait_until(Duration::from_secs(10), |s| {
            matches!(s.conn, rota::sync::ConnState::Connected { .. })
        })
        .await;
    assert!(ok, "connected");
}

async fn hub(dir: &Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        panic!("bind");
    };
    let Ok(addr) = listener.local_addr() else {
        panic!("addr");
    };
    let hub = match rota::server::Hub::bind(listener, rota::server::Config::new(dir.to_path_buf()))
    {
        Ok(h) => h,
        Err(e) => panic!("hub: {e}"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hub.serve(async move {
        let _ = stopped.await;
    }));
    (format!("ws://{addr}/ws"), stop)
}

/// A hub on loopback, and ann and bob connected to it with `staff` people
/// on the roster (ann set them up; bob has them). Keep the sender: the hub
/// stops when it is dropped.
async fn two_editors(staff: usize) -> (SyncEngine, SyncEngine, tokio::sync::oneshot::Sender<()>) {
    let dir = tempdir();
    let (url, stop) = hub(&dir.join("hub")).await;
    let a = engine(&url, "ann", &dir);
    let b = engine(&url, "bob", &dir);
    connected(&a).await;
    connected(&b).await;
    let _ = a.edit(setup_ops(staff));
    let (_, ok) = b.wait_until(Duration::from_secs(10), |s| s.seq >= 1).await;
    assert!(ok, "seeded");
    (a, b, stop)
}

async fn remote_edit() {
    let (a, b, _stop) = two_editors(50).await;
    let mut events = b.subscribe();
    let mut times = Vec::new();
    for i in 0..600 {
        let staff = format!("p{:03}", i % 50);
        let code = CODES[i % CODES.len()];
        let date = day(i / 50);
        let start = Instant::now();
        let _ = a.set_cell(&staff, date, Some(code));
        loop {
            match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
                Ok(Ok(SyncEvent::Remote { .. })) => {
                    if b.cell(&staff, date).as_deref() == Some(code) {
                        break;
                    }
                }
                Ok(Ok(_)) => {}
                _ => panic!("bob did not hear edit {i}"),
            }
        }
        if i >= 50 {
            times.push(start.elapsed());
        }
    }
    report(
        "remote edit: set in one editor until another shows it",
        times,
    );
}

/// Reads the visible window (60 people x 45 dates) of bob's view in a loop
/// while a 100,000-cell change from ann is received and stored.
async fn view_during_large_remote_change() {
    let (a, b, _stop) = two_editors(300).await;
    let reader = b.view_reader();
    let s = state(reader.clone(), 250, 70);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut times = Vec::new();
        while !stop2.load(Ordering::Relaxed) {
            let start = Instant::now();
            let n = reader.read(|r| rota::tui::grid::visible_codes(&s, r));
            times.push(start.elapsed());
            std::hint::black_box(n);
            std::thread::sleep(Duration::from_micros(200));
        }
        times
    });
    let mut events = b.subscribe();
    let sent = Instant::now();
    let _ = a.edit_script(cell_ops(300, 334, 1), "bench", false);
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(SyncEvent::Remote { count, .. })) if count >= 100_000 => break,
            Ok(_) => {}
            Err(_) => panic!("bob did not get the change"),
        }
    }
    let took = sent.elapsed();
    stop.store(true, Ordering::Relaxed);
    let times = thread.join().unwrap_or_default();
    report(
        &format!("view read during a 100,200-cell remote change ({took:.1?})"),
        times,
    );
}

// ----- the real binary -----

const BIN: &str = env!("CARGO_BIN_EXE_rota");

fn apply_roster(url: &str, dir: &Path, staff: usize, days: usize) {
    let mut ops = setup_ops(staff);
    ops.extend(cell_ops(staff, days, 0));
    let file = dir.join(format!("roster-{staff}x{days}.json"));
    let _ = std::fs::write(&file, serde_json::to_string(&ops).unwrap_or_default());
    let status = Process::new(BIN)
        .args(["--apply"])
        .arg(&file)
        .args(["--server", url, "--user", "loader", "--data"])
        .arg(dir.join("loader"))
        .stdout(Stdio::null())
        .status();
    assert!(status.is_ok_and(|s| s.success()), "the roster applies");
}

struct Tmux(String);
impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        Process::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
    fn start(&self, name: &str, args: &[String]) {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let cmd = format!("exec '{BIN}' {}", quoted.join(" "));
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "250",
            "-y",
            "70",
            &cmd,
        ]);
    }
    fn wait_for(&self, name: &str, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.run(&["capture-pane", "-p", "-t", name]).contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
    fn pid(&self, name: &str) -> u32 {
        self.run(&["display", "-p", "-t", name, "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap_or(0)
    }
    fn quit(&self, name: &str) {
        self.run(&["send-keys", "-t", name, "q", "q"]);
        let pid = self.pid(name);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid != 0 && Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.run(&["kill-session", "-t", name]);
    }
}
impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// The "first frame N ms after start" lines of an editor's log.
fn first_frames(log: &Path) -> Vec<Duration> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("first frame ").nth(1))
        .filter_map(|r| r.split(' ').next())
        .filter_map(|ms| ms.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

fn editor_args(url: &str, user: &str, data: &Path) -> Vec<String> {
    vec![
        "--server".into(),
        url.into(),
        "--user".into(),
        user.into(),
        "--data".into(),
        data.display().to_string(),
        "--config".into(),
        data.join("none.toml").display().to_string(),
        "--log-level".into(),
        "info".into(),
    ]
}

fn process() {
    if Process::new("tmux").arg("-V").output().is_err() {
        println!("process: tmux is not installed; skipped");
        return;
    }
    let dir = tempdir();
    let t = Tmux(format!("rota-bench-{}", std::process::id()));
    // Memory with 500 x 366.
    let (_hub, url) = hub_process(&dir.join("hub"));
    apply_roster(&url, &dir, 500, 366);
    let data = dir.join("ann");
    t.start("first", &editor_args(&url, "ann", &data));
    if t.wait_for("first", "Person 1 ") {
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "{:<56} {} MB",
            "resident, 500 x 366, first sync",
            rss_kb(t.pid("first")) / 1024
        );
    }
    t.quit("first");
    t.start("cached", &editor_args(&url, "ann", &data));
    if t.wait_for("cached", "Person 1 ") {
        std::thread::sleep(Duration::from_secs(2));
        let pid = t.pid("cached");
        println!(
            "{:<56} {} MB",
            "resident, 500 x 366, from the cache",
            rss_kb(pid) / 1024
        );
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(10));
        let ticks = cpu_ticks(pid) - before;
        // Ticks are 1/100 s on Linux.
        println!(
            "{:<56} {:.2} % of a core ({} ticks in 10 s)",
            "idle CPU, 10 s",
            ticks as f64 / 10.0,
            ticks
        );
    }
    t.quit("cached");
    // Start-up from the cache, 150 x 364.
    let dir2 = tempdir();
    let (_hub2, url2) = hub_process(&dir2.join("hub"));
    apply_roster(&url2, &dir2, 150, 364);
    let data2 = dir2.join("ann");
    for i in 0..11 {
        let name = format!("s{i}");
        t.start(&name, &editor_args(&url2, "ann", &data2));
        t.wait_for(&name, "Person 1 ");
        t.quit(&name);
    }
    let mut times = first_frames(&data2.join("rota-editor.log"));
    if !times.is_empty() {
        times.remove(0); // the first sync
    }
    report(
        "start-up to the first frame, 150 x 364 from the cache",
        times,
    );
    // --demo: a fresh demo each time (hub started, demo loaded), then again.
    let mut fresh = Vec::new();
    let mut again = Vec::new();
    for i in 0..6 {
        let d = tempdir();
        for (round, out) in [(0, &mut fresh), (1, &mut again)] {
            let name = format!("demo{i}-{round}");
            t.start(
                &name,
                &[
                    "--demo".into(),
                    "--data".into(),
                    d.display().to_string(),
                    "--config".into(),
                    d.join("none.toml").display().to_string(),
                    "--log-level".into(),
                    "info".into(),
                ],
            );
            t.wait_for(&name, "Amara Okafor");
            t.quit(&name);
            out.extend(
                first_frames(&d.join("demo/rota-editor.log"))
                    .into_iter()
                    .skip(round),
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }
    report("start-up to the first frame, --demo, new", fresh);
    report("start-up to the first frame, --demo, again", again);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

/// About 50 rules over a 500 x 366 roster: staffing per code and group,
/// forbidden sequences, and limits of every measure.
fn rules_ops() -> Vec<Op> {
    use rota::domain::{LimitMeasure, Rule, RuleKind};
    let mut ops = Vec::new();
    let mut put = |id: String, kind: RuleKind| {
        ops.push(Op::PutRule {
            rule: Rule { id, kind, seq: 0 },
            base: None,
        })
    };
    for g in 0..10 {
        for code in ["D", "N", "E", "L"] {
            put(
                format!("cover-{code}-{g}"),
                RuleKind::Staffing {
                    code: code.into(),
                    min: 8,
                    max: Some(12),
                    weekdays: Vec::new(),
                    group: Some(format!("Group {g}")),
                    from: None,
                    to: None,
                    weights: None,
                },
            );
        }
    }
    for (a, b) in [("N", "E"), ("N", "D"), ("L", "E")] {
        put(
            format!("no-{b}-after-{a}"),
            RuleKind::ForbiddenSequence {
                first: a.into(),
                then: b.into(),
            },
        );
    }
    let measures = [
        (LimitMeasure::ConsecutiveWorked, None, Some(6.0), None),
        (LimitMeasure::ConsecutiveOff, None, Some(4.0), None),
        (LimitMeasure::Shifts, Some(3.0), Some(6.0), Some(7)),
        (LimitMeasure::Hours, Some(100.0), Some(180.0), Some(28)),
        (LimitMeasure::WeekendsWorked, None, Some(2.0), Some(28)),
    ];
    for (i, (measure, min, max, period)) in measures.into_iter().enumerate() {
        for g in [None, Some("Group 1".to_string())] {
            put(
                format!("limit-{i}-{}", g.is_some()),
                RuleKind::Limit {
                    measure,
                    min,
                    max,
                    period_days: period,
                    code: None,
                    staff: None,
                    group: g,
                },
            );
        }
    }
    ops
}

fn with_rules(mut r: Roster) -> Roster {
    let author = Author {
        user: Arc::from("bench"),
        client: Arc::from("bench-client"),
    };
    if r.apply_batch_with(&rules_ops(), &author, 0, true).is_err() {
        panic!("the rules apply");
    }
    r
}

fn rules_bench() {
    use rota::domain::rules::Findings;
    let mut r = roster(500, 366);
    let author = Author {
        user: Arc::from("bench"),
        client: Arc::from("bench-client"),
    };
    let ops = rules_ops();
    let n = ops.len();
    if r.apply_batch_with(&ops, &author, 0, true).is_err() {
        panic!("the rules apply");
    }
    let mut full = Vec::new();
    let mut findings = Findings::new(&r);
    for _ in 0..7 {
        let start = Instant::now();
        findings = Findings::new(&r);
        full.push(start.elapsed());
    }
    report(
        &format!(
            "rules: full evaluation, 500 x 366, {n} rules ({} findings)",
            findings.len()
        ),
        full,
    );
    let mut one = Vec::new();
    for i in 0..2000 {
        let op = Op::SetCell {
            staff: format!("p{:03}", (i * 37) % 500),
            date: day((i * 11) % 366),
            code: Some(CODES[i % CODES.len()].to_string()),
            base: 0,
        };
        let Ok(applied) = r.apply_batch_with(&[op], &author, 0, true) else {
            continue;
        };
        let changed: Vec<_> = applied.changes.iter().map(|c| c.target()).collect();
        let start = Instant::now();
        findings.update(&r, &changed);
        one.push(start.elapsed());
    }
    report("rules: brought up to date after one cell edit", one);
}

fn main() {
    if wanted("rules") {
        rules_bench();
    }
    if wanted("frame") {
        let view = |r: Roster| ViewReader::detached(r);
        frames(vec![
            (
                "frame, 500 x 366 roster, 250x70",
                view(roster(500, 366)),
                None,
            ),
            ("frame, 25 x 42 roster, 250x70", view(roster(25, 42)), None),
            // As few staff and dates as fill the same screen: what is left
            // between this and 500 x 366 is what the roster's size costs.
            (
                "frame, 60 x 60 roster (fills the screen), 250x70",
                view(roster(60, 60)),
                None,
            ),
        ]);
        // With about 50 rules: the totals column, and the 40 staffing
        // rules' coverage folded (the default for that many) or a row each.
        // One editor at a time, as in use (two editors' findings side by
        // side would measure the cache they share, not a frame).
        let ruled = view(with_rules(roster(500, 366)));
        frames(vec![(
            "frame, 500 x 366, 53 rules, coverage folded + totals",
            ruled.clone(),
            Some(CoverageShown::Folded),
        )]);
        frames(vec![(
            "frame, 500 x 366, 53 rules, 40 coverage rows + totals",
            ruled,
            Some(CoverageShown::PerCode),
        )]);
    }
    if wanted("key") {
        key_to_frame(roster(500, 366));
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    if wanted("remote") {
        rt.block_on(remote_edit());
    }
    if wanted("view") {
        rt.block_on(view_during_large_remote_change());
    }
    if wanted("process") {
        process();
    }
}
