//! Publishing from scripts (issue 22): `rota --publish` fixes what staff
//! see, numbered and noted; `rota --diff-published` lists what they would
//! see change; `rota --export --published` writes what they see. The real
//! binary against a real hub on 127.0.0.1.

use crate::common::*;
use crate::requests_scripts::Ctx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_diff_and_export_what_staff_see() {
    let ctx = Ctx::new(2).await;
    let (mut ed, _) = Client::join(&ctx.hub.url(), "ed", "c-ed", "default", 0).await;
    ack_seq(
        &ed.edit(
            1,
            vec![
                set("s1", "2026-12-01", Some("D"), 0),
                set("s2", "2026-12-02", Some("N"), 0),
                set("s1", "2026-12-20", Some("N"), 0),
            ],
        )
        .await,
    );
    // Before any publication: staff see the roster as it is.
    let out = ctx.run(&["--diff-published"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("has never published"), "{}", out.stdout);

    let out = ctx
        .run(&[
            "--publish",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-14",
            "--note",
            "first half",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "publication 1, Tue 1 Dec 2026 to Mon 14 Dec 2026, by script: first half (2 shifts)."
        ),
        "{}",
        out.stdout
    );
    // The draft moves on: one published cell changed, one cleared, one
    // outside the range (never published: nothing to compare).
    ack_seq(
        &ed.edit(
            2,
            vec![
                set("s1", "2026-12-01", Some("N"), 0),
                set("s2", "2026-12-02", None, 0),
                set("s2", "2026-12-21", Some("D"), 0),
            ],
        )
        .await,
    );
    let out = ctx.run(&["--diff-published"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "Person 1 (s1)  Tue 1 Dec 2026  D -> N",
            "Person 2 (s2)  Wed 2 Dec 2026  N -> (empty)"
        ],
        "{}",
        out.stdout
    );
    assert!(lines[2].contains("2 cells differ"), "{}", out.stdout);

    // What staff see, as CSV: the published cells only.
    let out = ctx
        .run(&[
            "--export",
            "csv",
            "--published",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-31",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("2026-12-01"), "{}", out.stdout);
    let row1 = out
        .stdout
        .lines()
        .find(|l| l.starts_with("s1,"))
        .unwrap_or("");
    assert!(
        row1.contains(",D") && !row1.contains(",N"),
        "{}",
        out.stdout
    );

    // Bad flags: said, exit 2, nothing published.
    for args in [
        vec!["--publish"],
        vec!["--publish", "--from", "2026-12-10", "--to", "2026-12-01"],
        vec!["--publish", "--from", "2026-12-01"],
        vec!["--from", "2026-12-01", "--check"],
    ] {
        let out = ctx.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("--from") || out.stderr.contains("--to"),
            "{}",
            out.stderr
        );
    }
    let (_, snap) = ctx.snapshot("default").await;
    assert_eq!(snap.publications.len(), 1, "only the one publication");
}

/// `rota --mine`: a person's published shifts from today, with hours and
/// totals; a draft change is not in it until it is published; dates not
/// yet published are said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mine_lists_a_persons_published_shifts_from_today() {
    let ctx = Ctx::new(2).await;
    let today = rota::domain::Date(chrono::Local::now().date_naive());
    let day = |n: i64| today.add_days(n).to_string();
    let (mut ed, _) = Client::join(&ctx.hub.url(), "ed", "c-ed", "default", 0).await;
    // The roster plans a year around today (setup_ops), so these dates
    // are in its period.
    ack_seq(
        &ed.edit(
            1,
            vec![
                rota::domain::Op::SetPeriod {
                    from: today.add_days(-30),
                    to: today.add_days(60),
                },
                set("s1", &day(1), Some("D"), 0),
                set("s1", &day(2), Some("N"), 0),
                set("s1", &day(3), Some("OFF"), 0),
                set("s2", &day(1), Some("N"), 0),
            ],
        )
        .await,
    );
    let out = ctx
        .run(&["--publish", "--from", &day(0), "--to", &day(6)])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    ack_seq(&ed.edit(2, vec![set("s1", &day(1), Some("N"), 0)]).await);

    let out = ctx
        .run(&["--mine", "--staff", "Person 1", "--weeks", "2"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.stdout;
    let line_of = |n: i64| {
        let d = today.add_days(n).0.format("%a %-d %b %Y").to_string();
        text.lines()
            .find(|l| l.trim_start().starts_with(&d))
            .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
    };
    assert!(
        text.starts_with("Person 1 (s1), roster default: published shifts"),
        "{text}"
    );
    assert_eq!(
        line_of(1).as_deref(),
        Some("D 8 h"),
        "published, not the draft's N: {text}"
    );
    assert_eq!(line_of(2).as_deref(), Some("N 8 h"), "{text}");
    assert_eq!(line_of(3).as_deref(), Some("OFF 8 h, not worked"), "{text}");
    assert!(
        text.contains("2 shifts, 16 h worked; 8 h paid leave or other time."),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Not yet published: {} to {}",
            today.add_days(7).0.format("%a %-d %b %Y"),
            today.add_days(13).0.format("%a %-d %b %Y")
        )),
        "{text}"
    );
    // Whose? Without --staff on an account bound to no row: said, exit 2.
    let out = ctx.run(&["--mine"]).await;
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Say --staff ID"), "{}", out.stderr);
}
