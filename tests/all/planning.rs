//! The editor as a planning tool, driven key by key through the real key
//! map and `update` against real sync engines and a real hub on 127.0.0.1:
//! block edits (each one edit and one undo step), pastes, patterns, last
//! week copied, find and filter, coverage and totals, and the forms that
//! manage staff, codes and rules.

use crate::common;

use common::editor::Ed;
use common::proxy::Proxy;
use common::*;
use rota::domain::{Date, Op};
use rota::sync::ConnState;
use rota::tui::action::Action;
use rota::tui::state::{Filter, Mode};

fn day(i: i64) -> Date {
    d("2026-12-01").add_days(i)
}

/// Tuesday 1 December 2026.
fn today() -> Date {
    day(0)
}

async fn roster(url: &str) {
    let codes = ["D", "N", "OFF", "S", "ST", "SK"].map(|c| (c, ""));
    let ops = common::editor::four_people(&codes);
    let (mut c, _) = Client::join(url, "admin", "admin-client", "default", 0).await;
    let ack = c.edit(1, ops).await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
}

async fn editor(url: &str, user: &str, dir: &std::path::Path) -> Ed {
    let engine = start_engine(url, user, &dir.join(user));
    wait_connected(&engine).await;
    let mut ed = Ed::new(engine, today());
    ed.until("the roster", |s| s.layout.staff.len() == 4).await;
    ed
}

async fn hub_and_editor(dir: &std::path::Path) -> (Hub, Ed) {
    let hub = Hub::start(&dir.join("hub")).await;
    roster(&hub.url()).await;
    let ed = editor(&hub.url(), "ann", dir).await;
    (hub, ed)
}

/// The codes the editor shows for a person over `days` dates from `from`.
fn row(ed: &Ed, staff: &str, from: Date, days: i64) -> Vec<Option<String>> {
    (0..days)
        .map(|i| ed.shows(staff, from.add_days(i)))
        .collect()
}

fn codes(v: &[&str]) -> Vec<Option<String>> {
    v.iter()
        .map(|c| (!c.is_empty()).then(|| c.to_string()))
        .collect()
}

async fn all_saved(ed: &mut Ed) {
    ed.until("all saved", |s| s.counts() == (0, 0, 0)).await;
}

#[tokio::test]
async fn a_block_fill_is_one_edit_and_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ed) = hub_and_editor(dir.path()).await;
    ed.keys("v l l j");
    let b = ed.state.selection().expect("a block");
    assert_eq!((b.people(), b.days()), (2, 3));
    let outbox_before = ed.engine.outbox().len();
    ed.type_text("D");
    assert!(
        ed.state.selection().is_none(),
        "the fill ends the selection"
    );
    for p in ["s1", "s2"] {
        assert_eq!(row(&ed, p, today(), 4), codes(&["D", "D", "D", ""]), "{p}");
    }
    let outbox = ed.engine.outbox();
    assert_eq!(outbox.len(), outbox_before + 1, "one edit");
    assert_eq!(outbox.last().map(|e| e.ops.len()), Some(6));
    assert!(
        ed.message().contains("filled 2 people × 3 dates with D"),
        "{}",
        ed.message()
    );
    all_saved(&mut ed).await;
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(
        cells.iter().filter(|c| c.2.as_deref() == Some("D")).count(),
        6
    );
    // One undo takes the whole block back.
    ed.keys("u");
    for p in ["s1", "s2"] {
        assert_eq!(row(&ed, p, today(), 3), codes(&["", "", ""]), "{p}");
    }
    all_saved(&mut ed).await;
    let (_, cells) = hub_cells(&hub.url()).await;
    assert!(cells.iter().all(|c| c.2.is_none()), "{cells:?}");
    // Shift+arrows select too; x clears the block in one edit.
    ed.keys("ctrl-r");
    ed.keys("t shift-right shift-right shift-down");
    assert_eq!(
        ed.state.selection().map(|b| (b.people(), b.days())),
        Some((2, 3))
    );
    ed.keys("x");
    assert_eq!(row(&ed, "s2", today(), 3), codes(&["", "", ""]));
    ed.keys("u");
    assert_eq!(row(&ed, "s2", today(), 3), codes(&["D", "D", "D"]));
}

#[tokio::test]
async fn yank_and_paste_copy_a_block_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path()).await;
    ed.type_text("DN");
    ed.keys("j h h");
    ed.type_text("S");
    ed.keys("enter");
    ed.type_text("ST");
    // The block s1..s2 x today..+1 copied, then pasted a week on for s3.
    ed.keys("g g t v j l y");
    assert!(
        ed.message().contains("copied 2 people × 2 dates"),
        "{}",
        ed.message()
    );
    ed.keys("j h w p");
    assert_eq!(row(&ed, "s3", day(7), 2), codes(&["D", "N"]));
    assert_eq!(row(&ed, "s4", day(7), 2), codes(&["S", "ST"]));
    assert_eq!(ed.engine.outbox().last().map(|e| e.ops.len()), Some(4));
    // Pasted past the last person: the rest is left out, and said.
    ed.keys("G p");
    assert_eq!(row(&ed, "s4", day(7), 2), codes(&["D", "N"]));
    assert!(
        ed.message().starts_with("pasted 1 person × 2 dates")
            && ed
                .message()
                .ends_with("(2 cells past the grid's edge left out)"),
        "{}",
        ed.message()
    );
}

#[tokio::test]
async fn last_week_is_copied_onto_this_week_for_the_selected_people() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path()).await;
    // Last week (Mon 23 to Sun 29 Nov) for s1 and s2.
    let monday = d("2026-11-23");
    let mut ops = Vec::new();
    for (p, pattern) in [
        ("s1", ["D", "D", "N", "N", "OFF", "OFF", "D"]),
        ("s2", ["N", "", "D", "D", "D", "OFF", "OFF"]),
    ] {
        for (i, c) in pattern.iter().enumerate() {
            if !c.is_empty() {
                ops.push(Op::SetCell {
                    staff: p.into(),
                    date: monday.add_days(i as i64),
                    code: Some(c.to_string()),
                    base: 0,
                });
            }
        }
    }
    // This week's Tuesday already holds something for s2: copied over.
    ops.push(Op::SetCell {
        staff: "s2".into(),
        date: day(0),
        code: Some("S".into()),
        base: 0,
    });
    ed.edit(ops);
    ed.keys("v j o");
    let this_monday = d("2026-11-30");
    assert_eq!(
        row(&ed, "s1", this_monday, 7),
        codes(&["D", "D", "N", "N", "OFF", "OFF", "D"])
    );
    assert_eq!(
        row(&ed, "s2", this_monday, 7),
        codes(&["N", "", "D", "D", "D", "OFF", "OFF"])
    );
    assert_eq!(
        row(&ed, "s3", this_monday, 7),
        codes(&["", "", "", "", "", "", ""]),
        "not selected"
    );
    assert!(
        ed.message()
            .contains("Mon 30 Nov – Sun 6 Dec for 2 people (replacing S ×1)"),
        "{}",
        ed.message()
    );
    ed.keys("o");
    assert!(ed.message().contains("already matches"), "{}", ed.message());
    ed.keys("u");
    assert_eq!(
        ed.shows("s2", day(0)).as_deref(),
        Some("S"),
        "one undo puts all back"
    );
    assert_eq!(ed.shows("s1", this_monday), None);
}

#[tokio::test]
async fn a_pattern_is_laid_over_the_block_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path()).await;
    ed.keys("v j");
    for _ in 0..7 {
        ed.keys("l");
    }
    ed.keys("s");
    ed.type_text("D,D,N,N,off,OFF");
    ed.keys("enter");
    let want = codes(&["D", "D", "N", "N", "OFF", "OFF", "D", "D", ""]);
    assert_eq!(row(&ed, "s1", today(), 9), want);
    assert_eq!(row(&ed, "s2", today(), 9), want);
    assert_eq!(ed.engine.outbox().last().map(|e| e.ops.len()), Some(16));
    let before = ed.engine.outbox().len();
    ed.keys("G s");
    ed.type_text("D,Q,X");
    ed.keys("enter");
    assert!(
        ed.message().contains("no code `Q`, `X` here"),
        "every unknown code named: {}",
        ed.message()
    );
    assert!(ed.message().contains("nothing changed"));
    assert_eq!(ed.engine.outbox().len(), before);
    // The pattern stays, to be put right; the block stays chosen.
    assert_eq!(
        ed.state.mode,
        Mode::Pattern {
            typed: "D,Q,X".into()
        }
    );
    ed.keys("esc s");
    ed.type_text(",");
    ed.keys("enter");
    assert!(ed.message().contains("has no code"), "{}", ed.message());
    ed.keys("esc");
    // Without a block: once, from the cursor; an empty entry leaves its
    // day as it is (the D there stays).
    ed.edit(vec![set("s4", &day(1).to_string(), Some("D"), 0)]);
    ed.keys("t s");
    ed.type_text("N,,OFF");
    ed.keys("enter");
    assert_eq!(row(&ed, "s4", today(), 4), codes(&["N", "D", "OFF", ""]));
    assert!(ed.message().contains("laid N,,OFF"), "{}", ed.message());
    // Past the planning period's end: said, as for one cell.
    ed.keys("g");
    ed.type_text("31/12/2026");
    ed.keys("enter s");
    ed.type_text("D,D");
    ed.keys("enter");
    assert!(
        ed.message()
            .ends_with("(1 cell outside the planning period: no rule checks it)"),
        "{}",
        ed.message()
    );
}

#[tokio::test]
async fn cells_pasted_from_a_spreadsheet_land_as_a_block_and_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ed) = hub_and_editor(dir.path()).await;
    ed.keys("j");
    ed.act(Action::Paste("D\tN\toff\r\n\tST\tD\r\n".into()));
    assert_eq!(row(&ed, "s2", today(), 3), codes(&["D", "N", "OFF"]));
    assert_eq!(row(&ed, "s3", today(), 3), codes(&["", "ST", "D"]));
    assert_eq!(ed.engine.outbox().last().map(|e| e.ops.len()), Some(6));
    all_saved(&mut ed).await;
    let before = ed.engine.outbox().len();
    ed.act(Action::Paste("N,N\nD,XX\n".into()));
    let m = ed.message();
    assert!(
        m.starts_with("nothing pasted: row 2, column 2 of the text: no code `XX`"),
        "{m}"
    );
    assert_eq!(ed.engine.outbox().len(), before);
    assert_eq!(row(&ed, "s2", today(), 2), codes(&["D", "N"]));
    // Comma-separated works too, and one undo takes it back.
    ed.act(Action::Paste("N,N\n".into()));
    assert_eq!(row(&ed, "s2", today(), 2), codes(&["N", "N"]));
    ed.keys("u");
    assert_eq!(row(&ed, "s2", today(), 2), codes(&["D", "N"]));
    all_saved(&mut ed).await;
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(cells.iter().filter(|c| c.2.is_some()).count(), 5);
}

/// A block edit that meets a colleague's change is one conflict: one
/// question, and keeping theirs drops the whole block.
#[tokio::test]
async fn a_block_that_clashes_is_one_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ann = editor(&proxy.url(), "ann", dir.path()).await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    bob.engine.set_cell("s1", day(1), Some("OFF")).unwrap();
    wait_synced(&bob.engine, 0).await;
    ann.until("bob's OFF", |s| {
        s.view.read(|r| r.cell("s1", day(1)).is_some())
    })
    .await;
    proxy.refuse(true);
    proxy.cut_all();
    ann.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    ann.keys("v l l j");
    ann.type_text("D");
    bob.engine.set_cell("s1", day(1), Some("N")).unwrap();
    wait_synced(&bob.engine, 0).await;
    proxy.refuse(false);
    ann.engine.reconnect_now();
    ann.until("the conflict", |s| s.counts().1 == 1).await;
    assert_eq!(ann.state.troubles().len(), 1, "one question");
    ann.keys("c t");
    ann.until("resolved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(row(&ann, "s1", today(), 3), codes(&["", "N", ""]));
    assert_eq!(row(&ann, "s2", today(), 3), codes(&["", "", ""]));
}

#[tokio::test]
async fn find_and_filter_the_people_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ed) = hub_and_editor(dir.path()).await;
    ed.keys("/");
    ed.type_text("pat");
    assert_eq!(ed.at().0, "s4", "follows as typed");
    ed.keys("enter");
    assert_eq!(ed.state.mode, Mode::Normal);
    ed.keys("/");
    ed.type_text("a");
    assert_eq!(ed.at().0, "s4", "Dev Patel holds an a: stays");
    ed.keys("tab");
    assert_eq!(ed.at().0, "s1", "next, round to Amara");
    ed.keys("enter n");
    assert_eq!(ed.at().0, "s3", "Chloe Martin");
    ed.keys("n n");
    assert_eq!(ed.at().0, "s1", "round again");
    assert_eq!(ed.message(), "`a`: from the top again (3 matches)");
    ed.keys("/");
    ed.type_text("pat");
    ed.keys("enter n");
    assert_eq!(ed.message(), "`pat`: the only match");
    ed.keys("/");
    ed.type_text("zz");
    assert!(ed.message().contains("no one here is called `zz`"));
    ed.keys("esc");
    // Filter: everyone, people with warnings, then the groups by name.
    ed.keys("f j j enter");
    assert_eq!(ed.state.filter, Filter::Group("Doctors".into()));
    let ids: Vec<&str> = ed
        .state
        .layout
        .staff
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["s3", "s4"]);
    // People with warnings follow the edits.
    ed.edit(vec![forbidden("nd", "N", "D")]);
    ed.until("the rule", |s| s.view.read(|r| !r.rules().is_empty()))
        .await;
    ed.keys("f k enter");
    assert_eq!(ed.state.filter, Filter::Warned);
    assert!(ed.state.layout.staff.is_empty());
    // A colleague's edit makes Ben warned; undoing it clears him.
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    bob.engine
        .edit(vec![
            set("s2", "2026-12-01", Some("N"), 0),
            set("s2", "2026-12-02", Some("D"), 0),
        ])
        .unwrap();
    ed.until("Ben warned", |s| s.layout.staff.len() == 1).await;
    assert_eq!(ed.state.layout.staff[0].id, "s2");
    bob.engine.undo().unwrap();
    // Put right, Ben stays where he is (no row vanishes under the
    // cursor) until the filter is chosen again.
    ed.until("Ben's warning gone", |s| {
        s.findings.people_warned().is_empty()
    })
    .await;
    assert_eq!(ed.state.layout.staff.len(), 1, "Ben kept");
    ed.keys("f enter");
    assert_eq!(ed.state.filter, Filter::Warned);
    assert!(ed.state.layout.staff.is_empty(), "chosen again: no one");
    ed.keys("f k enter");
    assert_eq!(ed.state.filter, Filter::Everyone);
    assert_eq!(ed.state.layout.staff.len(), 4);
}

#[tokio::test]
async fn coverage_and_totals_follow_every_edit() {
    use rota::domain::rules::CoverageRow;
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path()).await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    bob.engine
        .edit(vec![
            staffing("d", "D", 2, Some(3)),
            staffing("n", "N", 1, None),
        ])
        .unwrap();
    // The findings read the roster's planning period (November and
    // December), whatever cells are written.
    bob.engine.set_cell("s4", day(-1), Some("OFF")).unwrap();
    bob.engine.set_cell("s4", day(3), Some("OFF")).unwrap();
    ann.until("the rules and planned days", |s| {
        s.findings.coverage_rows().len() == 2
            && s.findings.span() == Some((d("2026-11-01"), d("2026-12-31")))
    })
    .await;
    let rows = ann.state.findings.coverage_rows().to_vec();
    assert_eq!(
        rows[0],
        CoverageRow {
            code: "D".into(),
            group: None
        }
    );
    let cover = |ed: &Ed, date: Date| -> Vec<(u32, bool, bool)> {
        ed.state
            .findings
            .coverage(&rows, date, date)
            .into_iter()
            .flatten()
            .flatten()
            .map(|c| (c.n, c.under(), c.over()))
            .collect()
    };
    assert_eq!(cover(&ann, today()), [(0, true, false), (0, true, false)]);
    // Bob fills a block of D for all four: D over, N still under.
    let ops: Vec<Op> = ["s1", "s2", "s3", "s4"]
        .iter()
        .map(|p| Op::SetCell {
            staff: p.to_string(),
            date: today(),
            code: Some("D".into()),
            base: 0,
        })
        .collect();
    bob.engine.edit(ops).unwrap();
    ann.until("D over", |s| {
        s.findings.coverage(&rows, today(), today())[0][0].is_some_and(|c| c.n == 4)
    })
    .await;
    assert_eq!(cover(&ann, today()), [(4, false, true), (0, true, false)]);
    // Totals: worked shifts and hours over the dates shown.
    let (from, to) = ann.state.dates_shown();
    let t = ann.state.totals("s4", from, to);
    assert_eq!((t.shifts, t.hours), (1, 24.0), "one D, two OFF at 8 h each");
}

#[tokio::test]
async fn staff_codes_and_rules_are_managed_in_checked_forms() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path()).await;
    // Add a person: the form says what is missing before anything is sent.
    ann.keys("m a");
    let form_errors = |ed: &Ed| match &ed.state.mode {
        Mode::Manage(m) => m
            .form
            .as_ref()
            .map(|f| f.errors.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    ann.type_text("s2");
    assert!(
        form_errors(&ann)
            .iter()
            .any(|(_, m)| m.contains("a name is needed"))
    );
    ann.keys("tab");
    ann.type_text("Eve Adams");
    let errs = form_errors(&ann);
    assert!(
        errs.iter()
            .any(|(i, m)| *i == 0 && m.contains("already exists")),
        "{errs:?}"
    );
    let before = ann.engine.outbox().len();
    ann.keys("enter");
    assert_eq!(
        ann.engine.outbox().len(),
        before,
        "nothing sent while wrong"
    );
    // Enter took the cursor to the field in the wrong.
    ann.keys("backspace");
    ann.type_text("5");
    ann.keys("tab tab");
    ann.type_text("Nurses");
    assert!(
        form_errors(&ann).is_empty(),
        "{:?} {:?}",
        form_errors(&ann),
        ann.state.mode
    );
    ann.keys("enter");
    ann.until("Eve", |s| s.layout.person_index("s5").is_some())
        .await;
    // Rename her, then move her up past Ben.
    ann.keys("j j enter");
    let editing = matches!(&ann.state.mode, Mode::Manage(m) if m.form.as_ref().is_some_and(|f| f.fields[0].value == "Eve Adams"));
    assert!(editing, "{:?}", ann.state.mode);
    for _ in 0.."Adams".len() {
        ann.keys("backspace");
    }
    ann.type_text("Brown");
    ann.keys("enter K");
    all_saved(&mut ann).await;
    let order: Vec<String> = ann
        .state
        .layout
        .staff
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(order[..3], ["Amara Okafor", "Eve Brown", "Ben Hughes"]);
    ann.keys("K");
    ann.until("moved", |s| {
        s.layout.staff.first().is_some_and(|p| p.id == "s5")
    })
    .await;
    // A code: hours and start time checked, then saved.
    ann.keys("tab a");
    ann.type_text("E");
    ann.keys("tab tab tab");
    for _ in 0..1 {
        ann.keys("backspace");
    }
    ann.type_text("x");
    let errs = form_errors(&ann);
    assert!(
        errs.iter().any(|(i, m)| *i == 3 && m.contains("hours `x`")),
        "{errs:?}"
    );
    ann.keys("backspace");
    ann.type_text("7.5");
    ann.keys("tab");
    ann.type_text("0700");
    assert!(form_errors(&ann).iter().any(|(i, _)| *i == 4), "start 0700");
    ann.keys("backspace backspace");
    ann.type_text(":00");
    ann.keys("backspace backspace backspace backspace backspace");
    ann.type_text("07:00");
    assert!(
        form_errors(&ann)
            .iter()
            .any(|(i, m)| *i == 5 && m.contains("needs both start and end")),
        "{:?}",
        form_errors(&ann)
    );
    ann.keys("tab");
    ann.type_text("15:00");
    assert!(form_errors(&ann).is_empty(), "{:?}", form_errors(&ann));
    ann.keys("enter");
    ann.until("code E", |s| s.layout.codes.contains_key("E"))
        .await;
    // A staffing rule on E: coverage rows appear.
    ann.keys("tab a s");
    ann.type_text("min-e");
    ann.keys("tab");
    ann.type_text("Q");
    assert!(
        form_errors(&ann)
            .iter()
            .any(|(i, m)| *i == 1 && m.contains("no shift code `Q`"))
    );
    ann.keys("backspace");
    ann.type_text("E");
    ann.keys("enter");
    ann.until("the rule", |s| s.findings.coverage_rows().len() == 1)
        .await;
    all_saved(&mut ann).await;
    // Remove Eve: hidden, history kept on the hub.
    ann.keys("tab tab tab d y esc");
    ann.until("Eve gone", |s| s.layout.person_index("s5").is_none())
        .await;
    all_saved(&mut ann).await;
    let (_c, _, snap) = join_snapshot(&hub.url(), "admin", "check-client").await;
    let eve = snap.staff.iter().find(|s| s.id == "s5").expect("kept");
    assert!(!eve.active);
    assert_eq!(eve.name, "Eve Brown");
    assert!(
        snap.codes
            .iter()
            .any(|c| c.code == "E" && c.hours == 7.5 && c.start.as_deref() == Some("07:00"))
    );
    assert!(snap.rules.iter().any(|r| r.id == "min-e"));
    // The rule changed (its minimum), then removed: the coverage row goes.
    ann.keys("m tab tab enter tab");
    ann.type_text("2");
    ann.keys("enter");
    ann.until("min 2", |s| {
        s.view.read(|r| {
            r.rule("min-e")
                .is_some_and(|x| matches!(x.kind, rota::domain::RuleKind::Staffing { min: 12, .. }))
        })
    })
    .await;
    ann.keys("d y esc");
    ann.until("the rule gone", |s| s.findings.coverage_rows().is_empty())
        .await;
    all_saved(&mut ann).await;
    let (_c, _, snap) = join_snapshot(&hub.url(), "admin", "check-client-2").await;
    assert!(snap.rules.is_empty(), "{:?}", snap.rules);
}

/// A form's change based on a version a colleague has since replaced
/// shows as a conflict, as a cell's does.
#[tokio::test]
async fn a_form_change_over_a_colleagues_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path()).await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    ann.keys("m enter");
    bob.engine
        .edit(vec![Op::UpdateStaff {
            id: "s1".into(),
            name: Some("Amara O.".into()),
            group: None,
            order: None,
            base: None,
        }])
        .unwrap();
    wait_synced(&bob.engine, 0).await;
    ann.until("bob's rename", |s| {
        s.view
            .read(|r| r.staff_member("s1").is_some_and(|p| p.name == "Amara O."))
    })
    .await;
    ann.type_text("kafor");
    ann.keys("enter");
    ann.until("the conflict", |s| s.counts().1 == 1).await;
    // The conflict panel says what each side has, as for a cell.
    ann.keys("esc c");
    let screen = draw(&ann);
    assert!(
        screen
            .contains("person s1: mine Amara Okaforkafor (Nurses), theirs Amara O. (Nurses) (bob,"),
        "{screen}"
    );
    ann.keys("t");
    ann.until("settled", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(ann.state.layout.staff[0].name, "Amara O.");
}

/// The editor's screen as text (ratatui's TestBackend).
fn draw(ed: &Ed) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let (w, h) = ed.state.size;
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    let theme = rota::tui::theme::Theme::new(false);
    t.draw(|f| rota::tui::view::draw(f, &ed.state, &theme))
        .expect("draws");
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

/// An admin manages the roster's users from the editor: the users tab
/// lists them, `a` adds one and shows the token once, `d` takes a role
/// away.
#[tokio::test]
async fn an_admin_manages_users_in_the_editor() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let mut file = AccountsFile::open_in(&hub_dir).unwrap();
    let token = file
        .add_user(
            "ann",
            Grant::Role {
                roster: "default".into(),
                role: Role::Admin,
            },
        )
        .unwrap();
    file.add_user(
        "bob",
        Grant::Role {
            roster: "default".into(),
            role: Role::Editor,
        },
    )
    .unwrap();
    let hub = Hub::start(&hub_dir).await;
    let mut config = engine_config(&hub.url(), "ann", &dir.path().join("ann"));
    config.token = Some(token);
    let engine = rota::sync::SyncEngine::start(config).unwrap();
    wait_connected(&engine).await;
    let mut ann = Ed::new(engine, today());
    ann.keys("m tab tab tab tab");
    ann.until("the users listed", |s| s.users.users.len() == 2)
        .await;
    let listed: Vec<(String, String)> = ann
        .state
        .users
        .users
        .iter()
        .map(|u| (u.user.clone(), u.role.clone()))
        .collect();
    assert_eq!(
        listed,
        [
            ("ann".into(), "admin".into()),
            ("bob".into(), "editor".into())
        ]
    );
    // A bad role is caught in the form, before anything is sent.
    ann.keys("a");
    ann.type_text("cy");
    ann.keys("tab");
    for _ in 0.."editor".len() {
        ann.keys("backspace");
    }
    ann.type_text("boss");
    ann.keys("enter");
    let errors = match &ann.state.mode {
        Mode::Manage(m) => m.form.as_ref().map(|f| f.errors.clone()),
        _ => None,
    };
    assert!(
        errors.is_some_and(|e| e.iter().any(|(_, m)| m.contains("`boss`"))),
        "{:?}",
        ann.state.mode
    );
    for _ in 0.."boss".len() {
        ann.keys("backspace");
    }
    ann.type_text("viewer");
    ann.keys("enter");
    ann.until("cy added", |s| s.users.token.is_some()).await;
    let (who, token) = ann.state.users.token.clone().unwrap();
    assert_eq!(who, "cy");
    assert!(token.starts_with("rota_"));
    assert!(
        AccountsFile::open_in(&hub_dir)
            .unwrap()
            .load()
            .unwrap()
            .authenticate(Some(&token))
            .is_ok(),
        "the token shown is cy's"
    );
    // Bob's role taken away: the list follows.
    ann.keys("j d y");
    ann.until("bob gone", |s| {
        s.users.users.iter().all(|u| u.user != "bob") && s.users.waiting.is_none()
    })
    .await;
    // Closing the panel forgets the token.
    ann.keys("esc");
    assert!(ann.state.users.token.is_none());
}

/// The editor keeps to the role the hub gives it, and says so at the key
/// that asks for more, whole: a viewer is told at the first key of a
/// code (nothing queued), an editor at `a` in the manage panel (no form
/// opens); the header names the account and its role; a role changed by
/// an admin while connected is taken at once. Found by a person: a viewer
/// was offered "type a code", and told afterwards, cut short.
#[tokio::test]
async fn the_editor_keeps_to_the_role_the_hub_gives_it() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let hub = Hub::start(&hub_dir).await;
    roster(&hub.url()).await;
    let mut file = AccountsFile::open_in(&hub_dir).unwrap();
    let grant = |role| Grant::Role {
        roster: "default".into(),
        role,
    };
    let vi = file.add_user("vi", grant(Role::Viewer)).unwrap();
    let ed_token = file.add_user("ed", grant(Role::Editor)).unwrap();
    let start = |user: &str, token: &str| {
        let mut config = engine_config(&hub.url(), user, &dir.path().join(user));
        config.token = Some(token.to_string());
        rota::sync::SyncEngine::start(config).unwrap()
    };
    // The hub takes the accounts in within its watch interval.
    let vi_engine = loop {
        let e = start("vi", &vi);
        let (st, ok) = e
            .wait_until(WAIT, |s| {
                matches!(
                    s.conn,
                    ConnState::Connected { .. } | ConnState::Refused { .. }
                )
            })
            .await;
        if ok && matches!(st.conn, ConnState::Connected { .. }) {
            break e;
        }
    };
    let mut viewer = Ed::new(vi_engine, today());
    viewer
        .until("the role", |s| s.role() == Some("viewer"))
        .await;
    viewer.type_text("N");
    let m = viewer.message();
    assert!(m.contains("takes the editor role; you are a viewer"), "{m}");
    assert!(viewer.engine.outbox().is_empty(), "nothing queued");
    assert_eq!(viewer.state.mode, Mode::Normal);
    // Said whole, and the header names the account and role, at 80x24.
    viewer.act(Action::Resize(80, 24));
    let t = screen(&viewer);
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&m), "{m}\n{t}");
    assert!(
        t.lines().next().unwrap_or("").contains("vi (viewer)"),
        "{t}"
    );
    assert!(t.contains("VIEW") && t.contains("read only"), "{t}");

    let ed_engine = start("ed", &ed_token);
    wait_connected(&ed_engine).await;
    let mut editor_ = Ed::new(ed_engine, today());
    editor_
        .until("the role", |s| s.role() == Some("editor"))
        .await;
    editor_.keys("m a");
    assert!(
        editor_
            .message()
            .contains("takes the admin role; you are an editor"),
        "{}",
        editor_.message()
    );
    assert!(matches!(&editor_.state.mode, Mode::Manage(m) if m.form.is_none()));
    editor_.keys("esc");
    // An editor may type codes.
    editor_.type_text("N");
    assert_eq!(editor_.engine.outbox().len(), 1);

    // An admin makes the viewer an editor: taken at once, no reconnect.
    AccountsFile::open_in(&hub_dir)
        .unwrap()
        .set_role("vi", "default", Some(Role::Editor))
        .unwrap();
    viewer
        .until("the new role", |s| s.role() == Some("editor"))
        .await;
    viewer.keys("l");
    viewer.type_text("D");
    assert_eq!(viewer.engine.outbox().len(), 1, "{}", viewer.message());
}

/// The screen as text.
fn screen(ed: &Ed) -> String {
    let (w, h) = ed.state.size;
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    let theme = rota::tui::theme::Theme::new(false);
    t.draw(|f| rota::tui::view::draw(f, &ed.state, &theme))
        .unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
