//! `rota --apply` and `rota --export` (issue 4): the real binary against a
//! real hub on 127.0.0.1, with real files.

use crate::common;

use common::proxy::Proxy;
use common::*;
use rota::domain::Op;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary (bounded: every run passes --timeout).
async fn rota(args: Vec<String>, stdin: Option<String>) -> Out {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rota"))
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// A hub with staff s1..sN ("Person i") and codes D, N, OFF on roster
/// `default`, a data dir for the script's local store, and a dir for files.
struct Ctx {
    hub: Hub,
    hub_dir: tempfile::TempDir,
    data: tempfile::TempDir,
    files: tempfile::TempDir,
}

impl Ctx {
    /// A hub with a roster `default`: D, N, OFF, `staff` people, planning
    /// December 2026.
    async fn new(staff: usize) -> Ctx {
        let hub_dir = tempfile::tempdir().unwrap();
        let hub = Hub::start(hub_dir.path()).await;
        let mut ops = setup_ops(staff);
        ops[0] = rota::domain::Op::SetPeriod {
            from: d("2026-12-01"),
            to: d("2026-12-31"),
        };
        let (mut c, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
        assert!(ack_seq(&c.edit(1, ops).await) > 0);
        Ctx {
            hub,
            hub_dir,
            data: tempfile::tempdir().unwrap(),
            files: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    async fn run_on(&self, url: &str, args: &[&str], stdin: Option<&str>) -> Out {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(
            [
                "--server",
                url,
                "--user",
                "script",
                "--timeout",
                "10",
                "--data",
            ]
            .map(String::from),
        );
        all.push(self.data.path().to_string_lossy().into_owned());
        rota(all, stdin.map(String::from)).await
    }

    async fn run(&self, args: &[&str]) -> Out {
        self.run_on(&self.hub.url(), args, None).await
    }
}

fn cells_of(cells: &[CellRow]) -> Vec<(String, String, String)> {
    cells
        .iter()
        .map(|(s, d, c)| (s.clone(), d.to_string(), c.clone().unwrap_or_default()))
        .collect()
}

/// `FILE:LINE` of each reported problem, in order.
fn reported_lines(stderr: &str, file: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{file}:")))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_csv_line_is_reported_and_nothing_is_applied() {
    let ctx = Ctx::new(3).await;
    let good = ctx.file("good.csv", "staff,date,code\ns1,2026-12-01,D\n");
    assert_eq!(ctx.run(&["--apply", &good]).await.code, 0);
    let before = hub_cells(&ctx.hub.url()).await;

    let bad = ctx.file(
        "bad.csv",
        "staff,date,code\n\
         s1,2026-12-02,D\n\
         nobody,2026-12-01,D\n\
         s2,2026-12-01,X\n\
         s2,2026-12-32,D\n\
         s2,2026-12-07..2026-12-01,D\n\
         s3,2026-12-01,\"D,N\"\n\
         s1,2026-12-02,N\n\
         Person 3,2026-12-02,OFF\n\
         s3,2026-12-03,D,N\n",
    );
    let out = ctx.run(&["--apply", &bad]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        reported_lines(&out.stderr, &bad),
        vec![3, 4, 5, 6, 7, 8, 10],
        "{}",
        out.stderr
    );
    for (line, what) in [
        (3, "unknown staff `nobody`"),
        (4, "no shift code `X` (the roster has"),
        (5, "no such day"),
        (6, "wrong order"),
        (7, "single date"),
        (8, "set to `N` here but to `D` at line 2"),
        (10, "quote a pattern"),
    ] {
        let prefix = format!("{bad}:{line}: ");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "line {line} should say {what:?}:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("7 problems; nothing applied"),
        "{}",
        out.stderr
    );
    assert_eq!(hub_cells(&ctx.hub.url()).await, before, "roster unchanged");
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_and_nrp_inputs_are_reported_by_line_and_change_nothing() {
    let ctx = Ctx::new(2).await;
    let before = hub_cells(&ctx.hub.url()).await;

    let syntax = ctx.file(
        "syntax.json",
        "[\n  {\"op\": \"set_cell\",\n   \"staff\": \"s1\" \"date\": 1}\n]\n",
    );
    let out = ctx.run(&["--apply", &syntax]).await;
    assert_eq!(out.code, 2);
    assert_eq!(
        reported_lines(&out.stderr, &syntax),
        vec![3],
        "{}",
        out.stderr
    );

    let ops = ctx.file(
        "ops.json",
        r#"[
  {"op": "set_cell", "staff": "s1", "date": "2026-12-01", "code": "D"},
  {"op": "set_cell", "staff": "s1", "date": "2026-02-30", "code": "D"},
  {"op": "add_staff", "id": "s2", "name": "Again"},
  {"op": "remove_staff", "id": "ghost"},
  {"op": "put_code", "code": {"code": "NIGHT"}},
  {"op": "teleport"}
]
"#,
    );
    let out = ctx.run(&["--apply", &ops]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        reported_lines(&out.stderr, &ops),
        vec![3, 4, 5, 6, 7],
        "{}",
        out.stderr
    );

    let nrp = ctx.file(
        "inst.txt",
        "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,Q\nSECTION_STAFF\nA,D=7,2400,0,5,1,1,1\n\
         SECTION_DAYS_OFF\nA,9\nB,1\n",
    );
    let out = ctx.run(&["--apply", &nrp, "--format", "nrp"]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs --start"), "{}", out.stderr);
    let out = ctx
        .run(&["--apply", &nrp, "--format", "nrp", "--start", "2026-11-30"])
        .await;
    assert_eq!(out.code, 2);
    assert_eq!(
        reported_lines(&out.stderr, &nrp),
        vec![4, 8, 9],
        "{}",
        out.stderr
    );

    assert_eq!(hub_cells(&ctx.hub.url()).await, before, "roster unchanged");
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_line_lays_its_pattern_over_the_range_and_is_logged_with_the_file() {
    let ctx = Ctx::new(2).await;
    let text = "staff,date,code\n\
                s1,2026-12-01..2026-12-09,\"D,d,N,N,off\"\n\
                Person 2,2026-12-03,n\n";
    // From standard input, by display name too; codes in any case, as
    // the roster writes them (each differs from no other but by case).
    let out = ctx
        .run_on(
            &ctx.hub.url(),
            &["--apply", "-", "--format", "csv"],
            Some(text),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Applied 10 cells (10 set, 0 changed, 0 cleared)"),
        "{}",
        out.stdout
    );
    let (_, cells) = hub_cells(&ctx.hub.url()).await;
    let want: Vec<(String, String, String)> = [
        ("s1", "2026-12-01", "D"),
        ("s1", "2026-12-02", "D"),
        ("s1", "2026-12-03", "N"),
        ("s1", "2026-12-04", "N"),
        ("s1", "2026-12-05", "OFF"),
        ("s1", "2026-12-06", "D"),
        ("s1", "2026-12-07", "D"),
        ("s1", "2026-12-08", "N"),
        ("s1", "2026-12-09", "N"),
        ("s2", "2026-12-03", "N"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(cells_of(&cells), want);

    // One change set, logged under the user with the file's name.
    let db = rusqlite::Connection::open(store_of(ctx.hub_dir.path(), "default")).unwrap();
    let rows: Vec<(u64, String, Option<String>)> = db
        .prepare("SELECT seq, user, note FROM batches WHERE changes LIKE '[[{\"kind\":\"cell\"%'")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![(2, "script".to_string(), Some("apply:stdin".to_string()))]
    );

    // Applying it again changes nothing.
    let again = ctx
        .run_on(
            &ctx.hub.url(),
            &["--apply", "-", "--format", "csv"],
            Some(text),
        )
        .await;
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_each_cell_old_and_new_and_changes_nothing() {
    let ctx = Ctx::new(2).await;
    let first = ctx.file(
        "first.csv",
        "staff,date,code\ns1,2026-12-01,D\ns1,2026-12-02,N\n",
    );
    assert_eq!(ctx.run(&["--apply", &first]).await.code, 0);
    let before = hub_cells(&ctx.hub.url()).await;
    let next = ctx.file(
        "next.csv",
        "staff,date,code\ns1,2026-12-01,N\ns1,2026-12-02,\ns2,2026-12-01,D\ns1,2026-12-03,\n",
    );
    let out = ctx.run(&["--apply", &next, "--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            "s1 2026-12-01: D -> N",
            "s1 2026-12-02: N -> (empty)",
            "s2 2026-12-01: (empty) -> D",
            "Would change 3 cells (1 set, 1 changed, 1 cleared) in roster default (at seq 2); nothing applied.",
        ]
    );
    assert_eq!(hub_cells(&ctx.hub.url()).await, before);
    ctx.hub.stop().await.unwrap();
}

/// A dry run lists the rule warnings the file would add and those it
/// would clear, and still applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_lists_the_rule_warnings_it_would_add_and_clear() {
    let ctx = Ctx::new(2).await;
    let setup = ctx.file(
        "rules.json",
        r#"[{"op": "put_rule", "rule": {"id": "no-d-after-n", "kind": "forbidden_sequence", "first": "N", "then": "D"}},
 {"op": "set_cell", "staff": "s1", "date": "2026-12-01", "code": "N"},
 {"op": "set_cell", "staff": "s1", "date": "2026-12-02", "code": "D"}]"#,
    );
    assert_eq!(ctx.run(&["--apply", &setup]).await.code, 0);
    let before = hub_cells(&ctx.hub.url()).await;
    let next = ctx.file(
        "next.csv",
        "staff,date,code\ns1,2026-12-02,OFF\ns2,2026-12-03,N\ns2,2026-12-04,D\n",
    );
    let out = ctx.run(&["--apply", &next, "--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[3..],
        [
            "Rule warnings this would add:",
            "  + Person 2: N on Thu 3 Dec then D on Fri 4 Dec (D may not follow N)  [no-d-after-n]",
            "Rule warnings this would clear:",
            "  - Person 1: N on Tue 1 Dec then D on Wed 2 Dec (D may not follow N)  [no-d-after-n]",
            "Would change 3 cells (2 set, 1 changed, 0 cleared) in roster default (at seq 2); nothing applied.",
        ],
        "{}",
        out.stdout
    );
    assert_eq!(hub_cells(&ctx.hub.url()).await, before, "nothing applied");
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_apply_to_an_empty_copy_then_export_gives_the_same_bytes() {
    let ctx = Ctx::new(4).await;
    // A copy roster with the same staff and codes but no cells.
    let (mut admin, _) = Client::join(&ctx.hub.url(), "admin", "c-copy", "copy", 0).await;
    ack_seq(&admin.edit(1, setup_ops(4)).await);
    let text = "staff,date,code\n\
                s4,2026-12-01..2026-12-14,\"D,D,N,N,OFF,OFF,OFF\"\n\
                s2,2026-12-05..2026-12-06,OFF\n\
                s1,2026-11-30,N\n";
    let src = ctx.file("src.csv", text);
    assert_eq!(ctx.run(&["--apply", &src]).await.code, 0);

    let one = ctx.path("one.csv");
    let out = ctx
        .run(&["--export", "csv", "--out", one.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = std::fs::read_to_string(&one).unwrap();
    // Roster order of staff, then date; one line per non-empty cell.
    assert_eq!(first.lines().count(), 1 + 14 + 2 + 1);
    assert!(
        first.starts_with("staff,date,code\ns1,2026-11-30,N\ns2,2026-12-05,OFF\n"),
        "{first}"
    );

    let out = ctx
        .run(&["--apply", one.to_str().unwrap(), "--roster", "copy"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let two = ctx.path("two.csv");
    let out = ctx
        .run(&[
            "--export",
            "csv",
            "--roster",
            "copy",
            "--out",
            two.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());

    // A selection: one person, a date window; to standard output.
    let out = ctx
        .run(&[
            "--export",
            "csv",
            "--staff",
            "Person 4",
            "--from",
            "2026-12-13",
            "--to",
            "2026-12-31",
        ])
        .await;
    assert_eq!(
        out.stdout,
        "staff,date,code\ns4,2026-12-13,OFF\ns4,2026-12-14,OFF\n"
    );
    ctx.hub.stop().await.unwrap();
}

/// Runs the script through the proxy, holding what it sends after reading
/// the roster; meanwhile `bob` makes `edit` on the hub directly. Returns the
/// script's result and the seq of Bob's edit.
async fn race(
    ctx: &Ctx,
    proxy: &Proxy,
    args: &[&str],
    bob: &mut Client,
    (op_id, edit): (u64, Op),
) -> (Out, u64) {
    proxy.hold_after_welcome(true);
    let url = proxy.url();
    let script = ctx.run_on(&url, args, None);
    let bob_edits = async {
        proxy.wait_held_for(1, 6 * WAIT).await;
        let seq = ack_seq(&bob.edit(op_id, vec![edit]).await);
        proxy.hold_after_welcome(false);
        seq
    };
    tokio::join!(script, bob_edits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_changed_between_the_scripts_read_and_write_is_a_conflict_unless_forced() {
    let ctx = Ctx::new(2).await;
    let proxy = Proxy::start(ctx.hub.addr).await;
    let file = ctx.file(
        "week.csv",
        "staff,date,code\ns2,2026-12-02,D\ns1,2026-12-01,D\ns1,2026-12-03,D\n",
    );
    let (mut bob, _) = Client::join(&ctx.hub.url(), "bob", "c-bob", "default", 0).await;

    // The script reads the roster; what it sends next waits in the proxy
    // while Bob changes a cell the file also sets.
    let (out, bob_seq) = race(
        &ctx,
        &proxy,
        &["--apply", &file],
        &mut bob,
        (1, set("s1", "2026-12-01", Some("N"), 0)),
    )
    .await;
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{file}:3: s1 2026-12-01 is now N (set by bob at")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing applied"), "{}", out.stderr);
    let (seq, cells) = hub_cells(&ctx.hub.url()).await;
    assert_eq!(seq, bob_seq, "nothing of the script was applied");
    assert_eq!(
        cells_of(&cells),
        vec![("s1".into(), "2026-12-01".into(), "N".into())]
    );

    // Again with --force, Bob changing the cell once more in the window.
    let (out, _) = race(
        &ctx,
        &proxy,
        &["--apply", &file, "--force"],
        &mut bob,
        (2, set("s1", "2026-12-01", Some("OFF"), bob_seq)),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("--force overwrote 1 value"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "{file}:3: s1 2026-12-01 is now OFF (set by bob at"
        )),
        "{}",
        out.stdout
    );
    let (_, cells) = hub_cells(&ctx.hub.url()).await;
    assert_eq!(
        cells_of(&cells),
        vec![
            ("s1".into(), "2026-12-01".into(), "D".into()),
            ("s1".into(), "2026-12-03".into(), "D".into()),
            ("s2".into(), "2026-12-02".into(), "D".into()),
        ]
    );
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_hub_fails_fast_unless_queue_then_sync_delivers() {
    let ctx = Ctx::new(2).await;
    let proxy = Proxy::start(ctx.hub.addr).await;
    let url = proxy.url();
    // The script's local copy of the roster, from an earlier run.
    assert_eq!(ctx.run_on(&url, &["--sync"], None).await.code, 0);
    let file = ctx.file(
        "leave.csv",
        "staff,date,code\ns1,2026-12-24..2026-12-26,OFF\n",
    );

    proxy.refuse(true);
    let out = ctx.run_on(&url, &["--apply", &file], None).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("hub unreachable"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing applied"), "{}", out.stderr);
    // Nothing was queued: --sync has nothing to send.
    let sync = ctx.run_on(&url, &["--sync"], None).await;
    assert!(sync.stderr.contains("nothing queued"), "{}", sync.stderr);

    // A roster never read here: nothing to check the file against, said
    // so (not every staff name called unknown), nothing queued.
    let out = ctx
        .run_on(
            &url,
            &["--apply", &file, "--queue", "--roster", "fresh"],
            None,
        )
        .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("no copy of roster fresh here") && !out.stderr.contains("unknown"),
        "{}",
        out.stderr
    );
    let out = ctx.run_on(&url, &["--apply", &file, "--queue"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Queued 3 cells"), "{}", out.stdout);
    assert!(hub_cells(&ctx.hub.url()).await.1.is_empty());
    // Checked against the local copy: a bad file is still refused offline.
    let bad = ctx.file("bad.csv", "staff,date,code\nnobody,2026-12-24,OFF\n");
    let out = ctx.run_on(&url, &["--apply", &bad, "--queue"], None).await;
    assert_eq!(out.code, 2, "{}", out.stderr);

    // Export while the hub is away: the local copy, said so.
    let out = ctx.run_on(&url, &["--export", "csv"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("writing the local copy"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "staff,date,code\n");

    proxy.refuse(false);
    let sync = ctx.run_on(&url, &["--sync"], None).await;
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    assert!(
        sync.stderr
            .contains(&format!("sending 1 edit: apply:{file} (3 changes)")),
        "{}",
        sync.stderr
    );
    let (_, cells) = hub_cells(&ctx.hub.url()).await;
    assert_eq!(cells.len(), 3);
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_a_batch_is_applied_as_one_change_set() {
    let ctx = Ctx::new(40).await;
    // 40 people x 300 days = 12,000 cells: more than one frame may carry.
    let mut text = String::from("staff,date,code\n");
    for i in 1..=40 {
        text.push_str(&format!("s{i},2026-01-01..2026-10-27,\"D,N,OFF\"\n"));
    }
    let file = ctx.file("year.csv", &text);
    let out = ctx.run(&["--apply", &file]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Applied 12000 cells"), "{}", out.stdout);
    let (seq, cells) = hub_cells(&ctx.hub.url()).await;
    assert_eq!((seq, cells.len()), (2, 12_000));
    let seqs: std::collections::BTreeSet<u64> = change_log(ctx.hub_dir.path())
        .into_iter()
        .map(|(_, _, seq)| seq)
        .collect();
    assert_eq!(seqs.into_iter().collect::<Vec<_>>(), vec![1, 2]);
    ctx.hub.stop().await.unwrap();
}

/// `python3` able to import `icalendar`: as installed (.ci/run installs
/// it), or else installed here once with pip into the target dir, so that
/// `cargo test` needs nothing installed by hand.
pub(crate) fn python_with_icalendar() -> Command {
    let deps = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pydeps");
    let python = || {
        let mut c = Command::new("python3");
        c.env("PYTHONPATH", &deps);
        c
    };
    let has = |mut c: Command| {
        c.args(["-c", "import icalendar"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has(python()) {
        let installed = python()
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&deps)
            .arg("icalendar")
            .status()
            .expect("python3 -m pip");
        assert!(installed.success(), "pip could not install icalendar");
        assert!(has(python()), "icalendar installed but not importable");
    }
    python()
}

/// Runs Python's `icalendar` on a file: one line per event, `UID|SUMMARY|START|END`.
fn parse_ics(path: &Path) -> Vec<String> {
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for ev in cal.walk('VEVENT'):
    print('|'.join([str(ev['UID']), str(ev['SUMMARY']),
                    ev['DTSTART'].dt.isoformat(), ev['DTEND'].dt.isoformat()]))
"#;
    let out = python_with_icalendar()
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 is needed for the iCalendar test");
    assert!(
        out.status.success(),
        "python icalendar failed (is it installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ics_export_parses_with_a_real_icalendar_parser() {
    let ctx = Ctx::new(0).await;
    let setup = ctx.file(
        "setup.json",
        r#"[
  {"op": "set_time_zone", "zone": "America/New_York"},
  {"op": "put_code", "code": {"code": "E", "label": "Early", "hours": 8, "start": "07:00", "end": "15:00"}},
  {"op": "put_code", "code": {"code": "NT", "label": "Night", "hours": 10, "start": "21:00", "end": "07:00"}},
  {"op": "put_code", "code": {"code": "TRN", "label": "Training, all day", "hours": 7.5}},
  {"op": "put_code", "code": {"code": "AL", "label": "Leave", "worked": false}},
  {"op": "add_staff", "id": "ann", "name": "Ann Lee; RN"},
  {"op": "add_staff", "id": "bob", "name": "Bob"}
]"#,
    );
    assert_eq!(ctx.run(&["--apply", &setup]).await.code, 0);
    let rota_csv = ctx.file(
        "r.csv",
        "staff,date,code\nann,2026-12-01,E\nann,2026-12-02,NT\nann,2026-12-03,TRN\nann,2026-12-04,AL\nbob,2026-12-01,NT\n",
    );
    assert_eq!(ctx.run(&["--apply", &rota_csv]).await.code, 0);

    let all = ctx.path("all.ics");
    let out = ctx
        .run(&["--export", "ics", "--out", all.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        parse_ics(&all),
        vec![
            // Shift times are New York's (the roster's zone), in UTC.
            "default-ann-20261201@rota|Ann Lee; RN: E Early|2026-12-01T12:00:00+00:00|2026-12-01T20:00:00+00:00",
            "default-ann-20261202@rota|Ann Lee; RN: NT Night|2026-12-03T02:00:00+00:00|2026-12-03T12:00:00+00:00",
            "default-ann-20261203@rota|Ann Lee; RN: TRN Training, all day|2026-12-03|2026-12-04",
            // Leave is an all-day event, free rather than busy.
            "default-ann-20261204@rota|Ann Lee; RN: AL Leave|2026-12-04|2026-12-05",
            "default-bob-20261201@rota|Bob: NT Night|2026-12-02T02:00:00+00:00|2026-12-02T12:00:00+00:00",
        ]
    );
    let text = std::fs::read_to_string(&all).unwrap();
    assert!(text.contains("TRANSP:TRANSPARENT"), "{text}");
    assert!(text.contains("X-WR-TIMEZONE:America/New_York"), "{text}");

    // One file per person into a directory; UIDs are the same as above, so
    // a calendar importing either updates the same events.
    let dir = ctx.path("people");
    std::fs::create_dir(&dir).unwrap();
    let out = ctx
        .run(&["--export", "ics", "--out", dir.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ann = parse_ics(&dir.join("ann.ics"));
    assert_eq!(ann.len(), 4);
    assert!(
        ann[0].starts_with("default-ann-20261201@rota|E Early|"),
        "{ann:?}"
    );
    assert_eq!(parse_ics(&dir.join("bob.ics")).len(), 1);
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_grid_fits_the_page_width_week_by_week() {
    let ctx = Ctx::new(2).await;
    let file = ctx.file(
        "r.csv",
        "staff,date,code\ns1,2026-12-01..2026-12-20,\"D,N,OFF\"\ns2,2026-12-07,N\n",
    );
    assert_eq!(ctx.run(&["--apply", &file]).await.code, 0);
    for width in [60, 100, 200] {
        let w = width.to_string();
        let out = ctx
            .run(&[
                "--export",
                "txt",
                "--width",
                &w,
                "--from",
                "2026-12-01",
                "--to",
                "2026-12-20",
            ])
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let longest = out.stdout.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(
            longest <= width,
            "width {width}: a line of {longest}\n{}",
            out.stdout
        );
        // The period 2026-12-01..20 spans three weeks (from Monday 11-30).
        let weeks = out.stdout.matches("week of").count();
        assert_eq!(weeks, 3, "{}", out.stdout);
        let bands = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("Staff"))
            .count();
        let per_band = (width - 9) / 37;
        assert_eq!(bands, 3_usize.div_ceil(per_band.max(1)), "{}", out.stdout);
    }
    let out = ctx.run(&["--export", "txt", "--width", "80"]).await;
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Person 1"))
        .unwrap();
    assert_eq!(row, "Person 1 |      D    N    OFF  D    N    OFF");
    // People come by group, as the editor shows them, under headings; a
    // person ordered among another group's stays with their own. Found
    // by a person: after a reorder the export put a nurse among doctors.
    let (mut c, _) = Client::join(&ctx.hub.url(), "admin", "admin-2", "default", 0).await;
    let ack = c
        .edit(
            1,
            vec![
                Op::AddStaff {
                    id: "d1".into(),
                    name: "Doctor One".into(),
                    group: "Doctors".into(),
                    order: Some(-5),
                },
                Op::UpdateStaff {
                    id: "s2".into(),
                    name: None,
                    group: None,
                    order: Some(-10),
                    base: None,
                },
            ],
        )
        .await;
    assert!(
        matches!(ack, rota::protocol::ServerMsg::Ack { .. }),
        "{ack:?}"
    );
    let out = ctx.run(&["--export", "txt", "--width", "80"]).await;
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("--") || l.starts_with("Person") || l.starts_with("Doctor"))
        .map(|l| l.split(" |").next().unwrap_or(l).trim_end())
        .take(5)
        .collect();
    assert_eq!(
        rows,
        [
            "-- Nurses --",
            "Person 2",
            "Person 1",
            "-- Doctors --",
            "Doctor One"
        ],
        "{}",
        out.stdout
    );
    ctx.hub.stop().await.unwrap();
}

/// Counts from an instance file, read here independently of `script::nrp`:
/// (staff, shift codes, rules, days-off cells).
fn expected_counts(text: &str) -> (usize, usize, usize, usize) {
    let mut section = "";
    let mut days = 0usize;
    let (mut staff, mut shifts, mut rules) = (0, 0, 0);
    let mut off = std::collections::HashSet::new();
    let mut cover = std::collections::HashSet::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with("SECTION_") {
            section = l;
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        match section {
            "SECTION_HORIZON" => days = l.parse().unwrap(),
            "SECTION_SHIFTS" => {
                shifts += 1;
                rules += f
                    .get(2)
                    .map_or(0, |s| s.split('|').filter(|x| !x.is_empty()).count());
            }
            "SECTION_STAFF" => {
                staff += 1;
                rules += 4;
                rules += f[1]
                    .split('|')
                    .filter(|p| p.split('=').nth(1).unwrap().parse::<usize>().unwrap() < days)
                    .count();
            }
            "SECTION_DAYS_OFF" => {
                for d in &f[1..] {
                    off.insert((f[0].to_string(), d.to_string()));
                }
            }
            // A rule when being under costs something (and something is
            // required), or being over does (a requirement of 0 too).
            "SECTION_COVER" => {
                let (need, under, over): (i64, i64, i64) = (
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                );
                if (need > 0 && under > 0) || over > 0 {
                    cover.insert((f[0].to_string(), f[1].to_string()));
                }
            }
            _ => {}
        }
    }
    (staff, shifts + 1, rules + cover.len(), off.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmark_instance_imports_with_the_expected_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nrp");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 24, "the 24 instances in {}", dir.display());
    let ctx = Ctx::new(0).await;
    for path in &files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let out = ctx
            .run(&[
                "--apply",
                path.to_str().unwrap(),
                "--format",
                "nrp",
                "--start",
                "2026-01-05",
                "--roster",
                name,
            ])
            .await;
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let (staff, codes, rules, off) = expected_counts(&std::fs::read_to_string(path).unwrap());
        let (_c, _, snap) = join_snapshot_of(&ctx.hub.url(), "checker", "c-checker", name).await;
        assert_eq!(
            (
                snap.staff.len(),
                snap.codes.len(),
                snap.rules.len(),
                snap.cells.len()
            ),
            (staff, codes, rules, off),
            "{name}"
        );
        assert!(snap.cells.iter().all(|c| c.2.as_deref() == Some("AL")));
    }
    // Importing again changes nothing.
    let out = ctx
        .run(&[
            "--apply",
            files[0].to_str().unwrap(),
            "--format",
            "nrp",
            "--start",
            "2026-01-05",
            "--roster",
            files[0].file_stem().unwrap().to_str().unwrap(),
        ])
        .await;
    assert!(out.stdout.contains("Nothing to change"), "{}", out.stdout);
    ctx.hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_shows_progress_on_a_terminal_and_not_in_a_pipe() {
    let ctx = Ctx::new(10).await;
    let mut text = String::from("staff,date,code\n");
    for i in 1..=10 {
        for k in 0..300u64 {
            let date = rota::domain::Date(d("2026-01-01").0 + chrono::Days::new(k));
            text.push_str(&format!(
                "s{i},{date},{}\n",
                ["D", "N", "OFF"][(i + k as usize) % 3]
            ));
        }
    }
    let file = ctx.file("big.csv", &text);

    // stderr a pipe: only the result, no status line.
    let out = ctx.run(&["--apply", &file, "--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("\x1b[2K"), "{:?}", out.stderr);

    // stderr a terminal (a pseudo-terminal from Python's standard `pty`).
    let mut args = vec![
        "-c".to_string(),
        "import pty, sys; pty.spawn(sys.argv[1:])".into(),
    ];
    args.push(env!("CARGO_BIN_EXE_rota").into());
    for a in [
        "--apply",
        file.as_str(),
        "--server",
        &ctx.hub.url(),
        "--user",
        "script",
        "--timeout",
        "10",
        "--data",
        ctx.data.path().to_str().unwrap(),
    ] {
        args.push(a.to_string());
    }
    let out = tokio::task::spawn_blocking(move || Command::new("python3").args(&args).output())
        .await
        .unwrap()
        .expect("python3");
    let screen = String::from_utf8_lossy(&out.stdout);
    for phase in [
        "rota: reading",
        "rota: checking",
        "rota: saving 3000 changes",
    ] {
        assert!(screen.contains(phase), "no {phase:?} in {screen:?}");
    }
    // The status line is cleared before the result is printed.
    let result = screen.find("Applied 3000 cells").expect("result");
    let last_clear = screen.rfind("\r\x1b[2K").expect("a cleared line");
    assert!(last_clear < result, "{screen:?}");
    assert!(
        !screen[result..].contains('\x1b'),
        "nothing drawn after the result: {screen:?}"
    );
    ctx.hub.stop().await.unwrap();
}

/// The display columns of every `|` in a line.
fn bar_columns(line: &str) -> Vec<usize> {
    let mut col = 0;
    let mut at = Vec::new();
    for c in line.chars() {
        if c == '|' {
            at.push(col);
        }
        col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    }
    at
}

/// A JSON export without what differs between two rosters of the same
/// content: the roster's name and every seq.
fn without_seqs(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "seq" && k != "roster")
                .map(|(k, v)| (k, without_seqs(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_seqs).collect())
        }
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn japanese_codes_and_names_round_trip_through_apply_and_export() {
    let ctx = Ctx::new(1).await;
    let codes = ["○", "△", "×", "◎", "★", "夜", "休", "日勤"];
    let mut setup: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| {
            serde_json::json!({"op": "put_code", "code": {"code": c, "label": format!("記号 {c}"), "hours": 8, "worked": *c != "休"}})
        })
        .collect();
    for (id, name) in [("sato", "佐藤 花子"), ("takahashi", "高橋 一郎")] {
        setup.push(serde_json::json!({"op": "add_staff", "id": id, "name": name, "group": "病棟"}));
    }
    setup.push(serde_json::json!({"op": "set_cell", "staff": "takahashi", "date": "2026-12-10", "code": "日勤"}));
    let setup = ctx.file("setup.json", &serde_json::to_string_pretty(&setup).unwrap());
    for roster in ["jp", "jp-csv"] {
        let out = ctx.run(&["--apply", &setup, "--roster", roster]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let cells = ctx.file(
        "cells.csv",
        "staff,date,code\n\
         sato,2026-12-01..2026-12-08,\"○,△,×,◎,★,夜,休,日勤\"\n\
         佐藤 花子,2026-12-09,夜\n\
         takahashi,2026-12-03,×\n",
    );
    let out = ctx.run(&["--apply", &cells, "--roster", "jp"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let csv = export(&ctx, "csv", "jp", "jp.csv").await;
    for code in codes {
        assert!(csv.contains(&format!(",{code}\n")), "{code} in {csv}");
    }
    assert!(csv.contains("sato,2026-12-09,夜\n"), "{csv}");
    let json = export(&ctx, "json", "jp", "jp.json").await;

    // The JSON export makes a new roster whole; the CSV fills a copy.
    for (file, roster) in [("jp.json", "jp-json"), ("jp.csv", "jp-csv")] {
        let path = ctx.path(file);
        let out = ctx
            .run(&["--apply", path.to_str().unwrap(), "--roster", roster])
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(export(&ctx, "csv", "jp-json", "b.csv").await, csv);
    assert_eq!(export(&ctx, "csv", "jp-csv", "c.csv").await, csv);
    let again: serde_json::Value =
        serde_json::from_str(&export(&ctx, "json", "jp-json", "b.json").await).unwrap();
    let first: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(without_seqs(again), without_seqs(first));

    // The text grid lines up by display width.
    let txt = export(&ctx, "txt", "jp", "jp.txt").await;
    let rows: Vec<&str> = txt.lines().filter(|l| l.contains('|')).collect();
    assert!(rows.iter().any(|l| l.starts_with("佐藤 花子")), "{txt}");
    for row in &rows {
        assert_eq!(bar_columns(row), bar_columns(rows[0]), "misaligned:\n{txt}");
    }
    ctx.hub.stop().await.unwrap();
}

/// `--export FORMAT` of `roster` into the file `name`; its text.
async fn export(ctx: &Ctx, format: &str, roster: &str, name: &str) -> String {
    let path = ctx.path(name);
    let out = ctx
        .run(&[
            "--export",
            format,
            "--roster",
            roster,
            "--out",
            path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::read_to_string(&path).unwrap()
}

/// `--export txt` lists the rule warnings of what it prints under the
/// grid, and `--export json` carries them (ignored when the file is
/// applied again); `--staff` keeps only that person's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_carry_the_rule_warnings_of_what_they_export() {
    let ctx = Ctx::new(2).await;
    let rule = forbidden("no-d-after-n", "N", "D");
    let (mut admin, _) = Client::join(&ctx.hub.url(), "admin", "c-rule", "default", 0).await;
    assert!(ack_seq(&admin.edit(7, vec![rule]).await) > 0);
    let text =
        "staff,date,code\ns1,2026-12-01..2026-12-02,\"N,D\"\ns2,2026-12-01..2026-12-02,\"D,N\"\n";
    assert_eq!(
        ctx.run(&["--apply", &ctx.file("w.csv", text)]).await.code,
        0
    );
    // A summary under the grid, and the codes it prints.
    let txt = export(&ctx, "txt", "default", "w.txt").await;
    // Wrapped to the page at words: read with its line ends as spaces.
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&txt).contains("Rule warnings: 1 (1 forbidden sequence). `rota --check` lists them"),
        "{txt}"
    );
    assert!(txt.lines().all(|l| l.chars().count() <= 80), "{txt}");
    assert!(txt.contains("Codes:\n  D    8 h\n  N    8 h\n"), "{txt}");
    // Each one, when asked.
    let out = ctx.run(&["--export", "txt", "--warnings"]).await;
    assert!(
        words(&out.stdout).contains("Rule warnings (1): Person 1: N on Tue 1 Dec then D on Wed 2 Dec (D may not follow N) [no-d-after-n]"),
        "{}",
        out.stdout
    );
    let json = export(&ctx, "json", "default", "w.json").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["warnings"][0]["rule"], "no-d-after-n");
    assert_eq!(v["warnings"][0]["staff"][0], "s1");
    assert_eq!(v["warnings"][0]["first"], "2026-12-01");
    // Applied again: the warnings are not roster facts; nothing changes.
    let out = ctx
        .run(&["--apply", ctx.path("w.json").to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Nothing to change"), "{}", out.stdout);
    // One person's export: only their warnings.
    let path = ctx.path("p2.txt");
    let out = ctx
        .run(&[
            "--export",
            "txt",
            "--staff",
            "s2",
            "--out",
            path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p2 = std::fs::read_to_string(&path).unwrap();
    assert!(!p2.contains("Rule warnings"), "{p2}");
    ctx.hub.stop().await.unwrap();
}

/// Ctrl-C (SIGINT) while `--apply` is still sending its edit (the hub has
/// stopped reading): nothing is applied and nothing is left queued, and it
/// says so; `--sync` afterwards has nothing to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_interrupted_before_its_last_part_leaves_nothing_queued() {
    let ctx = Ctx::new(20).await;
    let proxy = Proxy::start(ctx.hub.addr).await;
    // 20 people over 20 years: 150,000 cells, some 11 MB of edit frames,
    // more than the socket buffers of the stalled proxy and the sender hold
    // (the sender's grows to 4 MB here; the proxy's stays small, as it stops
    // reading).
    let mut text = String::from("staff,date,code\n");
    let day = |n: u64| rota::domain::Date(d("2000-01-01").0 + chrono::Days::new(n));
    for i in 1..=20 {
        for k in 0..3 {
            let (a, b) = (day(k * 2500), day(k * 2500 + 2499));
            text.push_str(&format!("s{i},{a}..{b},\"D,N,OFF\"\n"));
        }
    }
    let file = ctx.file("year.csv", &text);
    proxy.stall_after_welcome(true);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .args([
            "--apply",
            &file,
            "--server",
            &proxy.url(),
            "--user",
            "script",
        ])
        .arg("--data")
        .arg(ctx.data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The edit has begun to go out: the proxy holds its first bytes and
    // reads no more.
    proxy.wait_held_for(1, 6 * WAIT).await;
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            (child.wait().unwrap().code(), err)
        }),
    )
    .await
    .expect("rota ends after Ctrl-C")
    .unwrap();
    assert_eq!(out.0, Some(130), "{}", out.1);
    assert!(
        out.1.contains(
            "interrupted before the edit was all sent: nothing applied, nothing left queued"
        ),
        "{}",
        out.1
    );
    proxy.stall_after_welcome(false);
    let sync = ctx.run_on(&proxy.url(), &["--sync"], None).await;
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    assert!(
        !sync.stderr.contains("sending"),
        "nothing to send: {}",
        sync.stderr
    );
    let (_, cells) = hub_cells(&ctx.hub.url()).await;
    assert!(
        cells.is_empty(),
        "nothing of it applied: {} cells",
        cells.len()
    );
}

/// By script, as a person found it: setting then clearing one cell far
/// outside the planning period leaves `--check`'s findings as they were
/// (it took them from 23 to 178 before periods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_set_and_cleared_far_away_leaves_the_findings_as_they_were() {
    let ctx = Ctx::new(3).await;
    let rule = staffing("cover-n", "N", 1, None);
    let (mut admin, _) = Client::join(&ctx.hub.url(), "admin", "c-rule", "default", 0).await;
    assert!(ack_seq(&admin.edit(7, vec![rule]).await) > 0);
    let check = || async {
        let out = ctx.run(&["--check"]).await;
        assert_eq!(out.code, 1, "{}", out.stderr);
        out.stdout
    };
    let before = check().await;
    assert!(
        before.contains("31 findings in roster default."),
        "{before}"
    );
    let far = ctx.file("far.csv", "staff,date,code\ns1,2027-12-14,N\n");
    assert_eq!(ctx.run(&["--apply", &far]).await.code, 0);
    assert_eq!(
        check().await,
        before,
        "a code outside the period is not checked"
    );
    let clear = ctx.file("clear.csv", "staff,date,code\ns1,2027-12-14,\n");
    assert_eq!(ctx.run(&["--apply", &clear]).await.code, 0);
    assert_eq!(check().await, before);
}

/// One settings resolver for every mode: with no `--server` or `--roster`,
/// a script takes the config file's, works on that roster, and its
/// messages name it (not "default").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_take_the_config_files_server_and_roster_and_say_so() {
    let ctx = Ctx::new(2).await;
    let setup = std::fs::read_to_string("assets/example-setup.json").unwrap();
    let setup = ctx.file("setup.json", &setup);
    let out = ctx.run(&["--apply", &setup, "--roster", "ward9"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let config = ctx.file(
        "config.toml",
        &format!(
            "server = \"{}\"\nroster = \"ward9\"\nuser = \"cfg\"\n",
            ctx.hub.url()
        ),
    );
    let data = ctx.path("cfg-data");
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(
            ["--config", &config, "--timeout", "10", "--data"]
                .iter()
                .map(|a| a.to_string()),
        );
        all.push(data.to_string_lossy().into_owned());
        rota(all, None)
    };
    let out = run(&["--check"]).await;
    assert!(
        out.stdout.contains("in roster ward9") && !out.stdout.contains("default"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = run(&["--export", "txt"]).await;
    assert!(out.stdout.starts_with("Roster ward9"), "{}", out.stdout);
}

/// A file of more operations than one edit may hold is bad input (exit 2,
/// naming the file, the count and the most), not a local store's failure;
/// nothing is queued or applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_more_operations_than_an_edit_holds_is_bad_input() {
    let ctx = Ctx::new(700).await;
    // 700 people x 365 days = 255,500 cells.
    let mut text = String::from("staff,date,code\n");
    for i in 1..=700 {
        text.push_str(&format!("s{i},2026-01-01..2026-12-31,D\n"));
    }
    let file = ctx.file("too-big.csv", &text);
    // A dry run says so too (a new user's dry run said it would apply it).
    for args in [vec!["--apply", &file], vec!["--apply", &file, "--dry-run"]] {
        let out = ctx.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "rota: {file}: 255500 operations, more than the 250000 one edit may hold"
            )) && out.stderr.contains("nothing applied"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let (seq, cells) = hub_cells(&ctx.hub.url()).await;
    assert_eq!((seq, cells.len()), (1, 0));
    ctx.hub.stop().await.unwrap();
}
