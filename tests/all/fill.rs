//! Issue 23, the assisted fill from a script: `rota --fill` on a benchmark
//! instance imported into a real hub. It keeps every cell set before it,
//! sends its cells as one edit (or writes them as `--apply` CSV, or only
//! says the scores), and its score is what `--check` then reports.

use crate::common::*;
use crate::requests_scripts::Ctx;

/// The cells holding a code, sorted.
fn codes(snap: &rota::protocol::Snapshot) -> Vec<CellRow> {
    let mut out: Vec<CellRow> = snap
        .cells
        .iter()
        .filter(|(_, _, c, _)| c.is_some())
        .map(|(s, d, c, _)| (s.to_string(), *d, c.as_deref().map(str::to_string)))
        .collect();
    out.sort();
    out
}

/// A number after `label` in `text` ("soft score 812" -> 812).
fn number_after(text: &str, label: &str) -> u64 {
    let at = text.find(label).map(|i| i + label.len());
    let digits: String = at
        .map(|i| {
            text[i..]
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_default();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {text}"))
}

/// Instance1 laid into roster `Instance1` from Monday 4 January 2027, as
/// a user imports it.
async fn import_instance1(ctx: &Ctx) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nrp/Instance1.txt");
    let out = ctx
        .run(&[
            "--apply",
            path.to_str().unwrap(),
            "--format",
            "nrp",
            "--start",
            "2027-01-04",
            "--roster",
            "Instance1",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_keeps_set_cells_and_sends_one_edit_that_check_scores_the_same() {
    let ctx = Ctx::new(0).await;
    import_instance1(&ctx).await;
    let (seq, before) = ctx.snapshot("Instance1").await;
    let set = codes(&before);

    // A dry run says the scores and sends nothing.
    let fill = ["--fill", "--seconds", "1", "--roster", "Instance1"];
    let dry = ctx.run(&[&fill[..], &["--dry-run"]].concat()).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("Before: ") && dry.stdout.contains("After: "),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("nothing sent"), "{}", dry.stdout);
    assert_eq!(ctx.snapshot("Instance1").await.0, seq);

    // --out writes what --apply takes.
    let csv = ctx.file("fill.csv", "");
    let wrote = ctx.run(&[&fill[..], &["--out", &csv]].concat()).await;
    assert_eq!(wrote.code, 0, "{}", wrote.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("staff,date,code\n") && text.lines().count() > 1,
        "{text}"
    );
    assert_eq!(ctx.snapshot("Instance1").await.0, seq);

    // Sent: one edit; every cell set before is as it was.
    let sent = ctx.run(&fill).await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert!(sent.stdout.contains("(one edit)"), "{}", sent.stdout);
    let (after_seq, after) = ctx.snapshot("Instance1").await;
    assert_eq!(after_seq, seq + 1, "one edit, one seq");
    let now = codes(&after);
    for cell in &set {
        assert!(now.contains(cell), "a set cell changed: {cell:?}");
    }
    assert!(now.len() > set.len());
    // What it said after is what --check finds in the roster it sent.
    let said = sent
        .stdout
        .lines()
        .find(|l| l.starts_with("After:"))
        .unwrap_or_default();
    let check = ctx
        .run(&["--check", "--roster", "Instance1", "--json"])
        .await;
    let v: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(
        v["soft_score"]["total"].as_u64(),
        Some(number_after(said, "soft score"))
    );
    let soft_rules: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["rule"].as_str().unwrap_or("").starts_with("cover"))
        .map(|f| f["rule"].to_string())
        .collect();
    let hard = if said.contains("no rule broken") {
        0
    } else {
        number_after(said, "After:") as usize
    };
    assert_eq!(soft_rules.len(), hard, "{soft_rules:?}\n{said}");

    // --check --score: the rules broken and the score split by kind, as
    // the fill said.
    let score = ctx
        .run(&["--check", "--score", "--roster", "Instance1"])
        .await;
    assert_eq!(
        score.code,
        if hard == 0 { 0 } else { 1 },
        "{}",
        score.stderr
    );
    let last = score.stdout.lines().last().unwrap_or_default();
    let split = said.split("soft score ").nth(1).unwrap_or_default();
    let split = split.split(" (").take(2).collect::<Vec<_>>().join(" (");
    let split = split.split(')').next().unwrap_or_default();
    assert_eq!(last, format!("Score: {split})."), "{}", score.stdout);
    let broken = score.stdout.lines().filter(|l| l.ends_with(']')).count();
    assert_eq!(broken, hard, "{}", score.stdout);
    assert!(
        !score.stdout.contains("[cover"),
        "cover is soft: {}",
        score.stdout
    );
}

/// The search is anytime: the best so far is said at 1 s when it runs
/// longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_says_the_best_so_far_as_it_goes() {
    let ctx = Ctx::new(3).await;
    let out = ctx.run(&["--fill", "--seconds", "2", "--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("At 1 s: "));
    let after = lines.iter().position(|l| l.starts_with("After: "));
    assert!(at.is_some() && at < after, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_flags_that_do_not_fit_are_refused() {
    let ctx = Ctx::new(2).await;
    let out = ctx.run(&["--fill", "--staff", "nobody", "--dry-run"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--staff: unknown staff `nobody`"),
        "{}",
        out.stderr
    );
    let out = ctx
        .run(&["--fill", "--from", "2026-12-20", "--to", "2026-12-10"])
        .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--to 2026-12-10 is before --from 2026-12-20"),
        "{}",
        out.stderr
    );
    let out = ctx.run(&["--check", "--dry-run"]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--dry-run goes with --apply or --fill"),
        "{}",
        out.stderr
    );
    // Found by a new-user trial: --seconds 0 (and 2^64 - 1, which
    // panicked), an empty --staff, --dry-run with --out (no file was
    // written), and --out into no directory (said after the search).
    for (args, said) in [
        (vec!["--fill", "--seconds", "0"], "--seconds"),
        (
            vec!["--fill", "--seconds", "18446744073709551615"],
            "--seconds",
        ),
        (vec!["--fill", "--staff", ""], "--staff: give one or more"),
        (vec!["--fill", "--dry-run", "--out", "x.csv"], "not both"),
        (
            vec!["--fill", "--out", "/nonexistent/dir/x.csv"],
            "--out: no directory",
        ),
    ] {
        let out = ctx.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{args:?}: {}", out.stderr);
        assert!(
            !out.stdout.contains("Filling"),
            "refused before the search: {}",
            out.stdout
        );
    }
    // --to before the planning period fills nothing (it filled it all).
    let out = ctx
        .run(&["--fill", "--to", "2026-11-01", "--dry-run"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Filling 0 empty cells"),
        "{}",
        out.stdout
    );
}

/// Found by a new-user trial: with the hub away the fill was made on the
/// local copy, queued without being asked, and said after 30 s that it
/// had no answer. A fill is never queued: said at once, nothing queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_with_the_hub_away_sends_nothing_and_says_so_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let url = hub.url();
    seed(&url, 3).await;
    // Someone on D every day: something to fill.
    let (mut c, _) = Client::join(&url, "ada", "c-ada", "default", 0).await;
    ack_seq(&c.edit(1, vec![staffing("one-d", "D", 1, None)]).await);
    let data = dir.path().join("local");
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--server", &url, "--user", "script", "--data"].map(String::from));
        all.push(data.display().to_string());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
                .args(&all)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    // A local copy first, then the hub goes.
    let (code, _, err) = run(&["--sync"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    hub.stop().await.unwrap();
    let (code, out, err) = run(&["--fill", "--seconds", "1"]).await.unwrap();
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        err.contains("nothing sent (a fill is never queued)"),
        "{err}"
    );
    assert!(out.contains("After:"), "filled on the local copy: {out}");
    // Nothing waits in the outbox.
    let (code, out, err) = run(&["--sync", "--timeout", "1"]).await.unwrap();
    assert!(
        !out.contains("sent") || out.contains("nothing"),
        "{code} {out}\n{err}"
    );
}

/// Found by a new-user trial: `rota --fill` filled round nothing of what an
/// editor had proposed, and the proposals left on its days off were then
/// accepted into a roster breaking 67 rules. It works round proposals as
/// the editor's fill does: they stay, their cells stay empty, and it says
/// so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_works_round_an_editors_proposals() {
    let ctx = Ctx::new(0).await;
    import_instance1(&ctx).await;
    let (_, before) = ctx.snapshot("Instance1").await;
    let staff: Vec<String> = before.staff.iter().map(|s| s.id.clone()).collect();
    // Proposals on two empty cells, as an editor's fill leaves them.
    let empty: Vec<(String, rota::domain::Date)> = staff
        .iter()
        .flat_map(|s| (0..14).map(move |i| (s.clone(), d("2027-01-04").add_days(i))))
        .filter(|(s, day)| {
            !before
                .cells
                .iter()
                .any(|(cs, cd, c, _)| &**cs == s.as_str() && cd == day && c.is_some())
        })
        .take(2)
        .collect();
    let code = before.codes.iter().find(|c| c.worked).unwrap().code.clone();
    let ops: Vec<rota::domain::Op> = empty
        .iter()
        .map(|(s, day)| rota::domain::Op::Propose {
            staff: s.clone(),
            date: *day,
            code: Some(code.clone()),
        })
        .collect();
    let (mut ed, _) = Client::join(&ctx.hub.url(), "ed", "c-ed", "Instance1", 0).await;
    ack_seq(&ed.edit(1, ops).await);
    let sent = ctx
        .run(&["--fill", "--seconds", "1", "--roster", "Instance1"])
        .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert!(
        sent.stdout.contains("2 cells hold an editor's proposals"),
        "{}",
        sent.stdout
    );
    let (_, after) = ctx.snapshot("Instance1").await;
    for (s, day) in &empty {
        assert!(
            after
                .proposals
                .iter()
                .any(|p| &p.staff == s && p.date == *day),
            "the proposal on {s} {day} stays"
        );
        assert!(
            !after
                .cells
                .iter()
                .any(|(cs, cd, c, _)| &**cs == s.as_str() && cd == day && c.is_some()),
            "{s} {day} is not filled over its proposal"
        );
    }
}
