//! The editor driven as a user would, without a terminal: keys through the
//! real key map and `update`, edits through a real sync engine to a real
//! hub on 127.0.0.1, and the engine's events back into the editor.

use crate::common;

use common::editor::Ed;
use common::proxy::Proxy;
use common::*;
use rota::domain::{Date, Op};
use rota::sync::{ConnState, EntryState, SyncEvent};
use rota::tui::config::{Advance, Config};
use rota::tui::state::{Mark, Mode};

fn day(i: i64) -> Date {
    d("2026-12-01").add_days(i)
}

/// Today, as the tests' editors see it: Tuesday 1 December 2026.
fn today() -> Date {
    day(0)
}

/// Codes with shared beginnings (S, ST, SK; OFF alone under O), staff
/// s1..s4 in two groups, on a fresh hub.
async fn roster(url: &str) {
    let codes = ["D", "N", "OFF", "S", "ST", "SK", "夜", "○"].map(|c| (c, ""));
    let ops = common::editor::four_people(&codes);
    let (mut c, _) = Client::join(url, "admin", "admin-client", "default", 0).await;
    let ack = c.edit(1, ops).await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
}

async fn hub_and_editor(dir: &std::path::Path, user: &str) -> (Hub, Ed) {
    let hub = Hub::start(&dir.join("hub")).await;
    roster(&hub.url()).await;
    let ed = editor(&hub.url(), user, dir).await;
    (hub, ed)
}

async fn editor(url: &str, user: &str, dir: &std::path::Path) -> Ed {
    let engine = start_engine(url, user, &dir.join(user));
    wait_connected(&engine).await;
    let mut ed = Ed::new(engine, today());
    ed.until("the roster", |s| s.layout.staff.len() == 4).await;
    ed
}

/// A roster planned for a period that has not begun (a benchmark imported
/// for next year) opens on the period's first day, not on a blank today
/// (found by a new user, who had to know to press Home).
#[tokio::test]
async fn a_roster_planned_later_opens_on_its_periods_first_day() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let (mut c, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
    let period = Op::SetPeriod {
        from: d("2027-01-04"),
        to: d("2027-02-28"),
    };
    assert!(ack_seq(&c.edit(2, vec![period]).await) > 0);
    let ed = editor(&hub.url(), "ann", dir.path()).await;
    assert_eq!(ed.at().1, d("2027-01-04"), "opens on the period's start");
    // Inside its period (the other tests' roster), it opens on today.
}

#[tokio::test]
async fn moves_keep_to_the_grid_and_scroll_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    assert_eq!(ed.at(), ("s1".into(), today()), "opens on today");
    ed.keys("l l j");
    assert_eq!(ed.at(), ("s2".into(), day(2)));
    ed.keys("w w b");
    assert_eq!(ed.at().1, day(9));
    ed.keys("k k k k");
    assert_eq!(ed.at().0, "s1", "stops at the first person");
    ed.keys("G");
    assert_eq!(ed.at().0, "s4");
    ed.keys("g g");
    assert_eq!(ed.at().0, "s1");
    // End: the planning period's last date, then the grid's.
    ed.keys("end");
    assert_eq!(ed.at().1, d("2026-12-31"), "the period's end");
    ed.keys("end");
    let last = ed.state.layout.days - 1;
    assert_eq!(ed.state.cursor.col, last);
    assert_eq!(
        ed.state.left + ed.state.grid_cols(),
        last + 1,
        "scrolled to it, the screen full of dates up to it"
    );
    // A jump to the grid's last date from far away: the dates before it
    // fill the screen (no blank columns at the right).
    let last_date = ed.state.layout.date(last);
    ed.keys("home home");
    ed.keys("g");
    ed.type_text(&last_date.0.format("%-d/%-m/%Y").to_string());
    ed.keys("enter");
    assert_eq!(ed.at().1, last_date);
    assert_eq!(ed.state.left + ed.state.grid_cols(), last + 1);
    // From past the period, End goes back to its last date first.
    ed.keys("end");
    assert_eq!(ed.at().1, d("2026-12-31"), "the period's end, from past it");
    ed.keys("end");
    assert_eq!(ed.at().1, last_date, "then the grid's");
    ed.keys("l");
    assert_eq!(
        (ed.state.cursor.col, ed.state.layout.days),
        (last + 1, last + 2),
        "past the last date the grid grows a day"
    );
    ed.keys("home");
    assert_eq!(ed.at().1, d("2026-11-01"), "the period's start");
    ed.keys("home");
    assert_eq!((ed.state.cursor.col, ed.state.left), (0, 0));
    ed.keys("t");
    assert_eq!(ed.at().1, today());
    ed.keys("pgdn");
    assert_eq!(ed.at().0, "s4");
    ed.keys("pgup");
    assert_eq!(ed.at().0, "s1");
}

#[tokio::test]
async fn a_code_is_set_as_soon_as_it_is_the_only_one_and_the_cursor_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    // D and N are whole codes no other starts with: set at once.
    ed.type_text("DN");
    assert_eq!(ed.shows("s1", day(0)).as_deref(), Some("D"));
    assert_eq!(ed.shows("s1", day(1)).as_deref(), Some("N"));
    assert_eq!(ed.at().1, day(2), "moved on to the next date");
    assert_eq!(ed.state.mark("s1", day(1)), Some(&Mark::Pending));
    // O: only OFF starts with it, but O is not a code: Tab completes.
    ed.type_text("O");
    assert_eq!(
        ed.state.mode,
        Mode::Entry {
            typed: "O".into(),
            opened: false
        }
    );
    ed.keys("tab");
    assert_eq!(ed.shows("s1", day(2)).as_deref(), Some("OFF"));
    // S is a code but ST and SK start with it: it waits; Enter takes S.
    ed.type_text("S");
    assert!(matches!(ed.state.mode, Mode::Entry { .. }));
    assert_eq!(ed.shows("s1", day(3)), None);
    ed.keys("enter");
    assert_eq!(ed.shows("s1", day(3)).as_deref(), Some("S"));
    // ST typed whole is set at once; lower case continues a code.
    ed.type_text("St");
    assert_eq!(ed.shows("s1", day(4)).as_deref(), Some("ST"));
    // Codes beyond ASCII.
    ed.type_text("夜○");
    assert_eq!(ed.shows("s1", day(5)).as_deref(), Some("夜"));
    assert_eq!(ed.shows("s1", day(6)).as_deref(), Some("○"));
    // Everything reaches the hub and is saved.
    ed.until("all saved", |s| {
        s.counts() == (0, 0, 0) && s.marks.is_empty()
    })
    .await;
    let (_, cells) = hub_cells(&hub.url()).await;
    let on_hub: Vec<&str> = cells.iter().filter_map(|c| c.2.as_deref()).collect();
    assert_eq!(on_hub, ["D", "N", "OFF", "S", "ST", "夜", "○"]);
}

#[tokio::test]
async fn an_unknown_code_says_so_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.type_text("D");
    ed.keys("h");
    ed.type_text("SX");
    // The entry stays open with what fitted: the keys after a typo are
    // never taken for commands (x would clear the cell).
    assert_eq!(
        ed.state.mode,
        Mode::Entry {
            typed: "S".into(),
            opened: false
        }
    );
    assert!(
        ed.message().contains("no code starts with `SX`"),
        "{}",
        ed.message()
    );
    ed.type_text("x");
    assert_eq!(ed.shows("s1", day(0)).as_deref(), Some("D"), "unchanged");
    ed.keys("esc");
    assert_eq!(ed.state.mode, Mode::Normal);
    assert_eq!(ed.at().1, day(0), "the cursor stayed");
    // Opened with i: a typo, a second key, Backspace to nothing: still
    // typing; only Esc leaves. Found by a person: `i x x` cleared a cell.
    ed.keys("i");
    ed.type_text("xx");
    ed.keys("backspace");
    assert!(
        matches!(&ed.state.mode, Mode::Entry { typed, opened: true } if typed.is_empty()),
        "{:?}",
        ed.state.mode
    );
    assert_eq!(ed.shows("s1", day(0)).as_deref(), Some("D"), "not cleared");
    ed.keys("esc");
    // A key that is neither a code nor a command.
    ed.keys("Z");
    assert!(ed.message().contains("`Z`"), "{}", ed.message());
    let pending = ed.engine.outbox().len();
    assert!(pending <= 1, "only the D was queued: {pending}");
}

#[tokio::test]
async fn the_cursor_moves_down_or_stays_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    for (advance, at) in [
        (Advance::Down, ("s2".to_string(), day(0))),
        (Advance::None, ("s1".to_string(), day(0))),
    ] {
        let engine = start_engine(&hub.url(), "ann", &dir.path().join(format!("{advance:?}")));
        wait_connected(&engine).await;
        let config = Config {
            advance,
            ..Config::default()
        };
        let mut ed = Ed::with_config(engine, today(), config);
        ed.until("the roster", |s| s.layout.staff.len() == 4).await;
        ed.type_text("N");
        assert_eq!(ed.at(), at, "{advance:?}");
    }
}

#[tokio::test]
async fn clear_undo_and_redo() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.type_text("D");
    ed.keys("h x");
    assert_eq!(ed.shows("s1", day(0)), None, "cleared");
    ed.keys("u");
    assert_eq!(ed.shows("s1", day(0)).as_deref(), Some("D"), "undone");
    ed.keys("u");
    assert_eq!(ed.shows("s1", day(0)), None, "undone again");
    ed.keys("ctrl-r");
    assert_eq!(ed.shows("s1", day(0)).as_deref(), Some("D"), "redone");
    ed.keys("u u u");
    assert!(ed.message().contains("nothing to undo"), "{}", ed.message());
}

/// An undo shows the cell it brought back, its block's top-left one;
/// but a key pressed before the undo's answer came (the worker is busy, the
/// hub far) is the user's: the answer moves the cursor no more.
#[tokio::test]
async fn undo_shows_what_came_back_unless_the_user_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.keys("v j j");
    ed.type_text("D");
    ed.keys("G l l");
    ed.keys("u");
    assert_eq!(ed.at(), ("s1".into(), today()), "the block's first cell");
    ed.keys("ctrl-r G l l");
    let held = ed.key_held("u");
    ed.keys("g g");
    for a in held {
        ed.act(a);
    }
    assert!(ed.message().contains("undone"), "{}", ed.message());
    assert_eq!(ed.at(), ("s1".into(), day(2)), "where g g put it");
    assert_eq!(ed.shows("s1", today()), None, "undone all the same");
}

#[tokio::test]
async fn undo_asks_before_overwriting_someone_elses_change() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let mut bob = editor(&hub.url(), "bob", dir.path()).await;
    ann.type_text("D");
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    bob.until("ann's D", |s| {
        s.view
            .read(|r| r.cell("s1", day(0)).and_then(|(c, _)| c) == Some("D"))
    })
    .await;
    bob.engine.set_cell("s1", day(0), Some("N")).unwrap();
    ann.until("bob's N", |s| {
        s.view
            .read(|r| r.cell("s1", day(0)).and_then(|(c, _)| c) == Some("N"))
    })
    .await;
    assert!(ann.state.flash("s1", day(0)).is_some(), "highlighted");
    ann.keys("u");
    assert_eq!(
        ann.state.mode,
        Mode::ConfirmUndo {
            question:
                "bob changed Amara Okafor, Tue 1 Dec since (now N): undo anyway, over theirs?"
                    .into()
        }
    );
    assert_eq!(ann.shows("s1", day(0)).as_deref(), Some("N"), "not yet");
    ann.keys("n");
    assert_eq!(ann.state.mode, Mode::Normal);
    assert_eq!(ann.shows("s1", day(0)).as_deref(), Some("N"));
    ann.keys("u y");
    assert_eq!(ann.shows("s1", day(0)), None, "undone over bob's");
}

#[tokio::test]
async fn a_conflict_shows_and_each_choice_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ann = editor(&proxy.url(), "ann", dir.path()).await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    for (choice, bobs, expect) in [("t", "N", "N"), ("m", "OFF", "D")] {
        proxy.refuse(true);
        proxy.cut_all();
        ann.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
            .await;
        ann.keys("t");
        ann.type_text("D");
        assert_eq!(ann.state.mark("s1", today()), Some(&Mark::Pending));
        bob.engine.set_cell("s1", today(), Some(bobs)).unwrap();
        wait_synced(&bob.engine, 0).await;
        proxy.refuse(false);
        ann.engine.reconnect_now();
        ann.until("the conflict", |s| s.counts().1 == 1).await;
        let Some(Mark::Conflict {
            mine, theirs, user, ..
        }) = ann.state.mark("s1", today()).cloned()
        else {
            panic!("a conflict mark: {:?}", ann.state.marks);
        };
        assert_eq!(
            (mine.as_deref(), theirs.as_deref(), user.as_str()),
            (Some("D"), Some(bobs), "bob")
        );
        ann.keys("G c");
        assert!(matches!(ann.state.mode, Mode::Conflicts { index: 0 }));
        assert_eq!(ann.at(), ("s1".into(), today()), "taken to the cell");
        ann.keys(choice);
        ann.until("resolved", |s| {
            s.counts() == (0, 0, 0) && s.mode == Mode::Normal
        })
        .await;
        let (_, cells) = hub_cells(&hub.url()).await;
        let cell = cells.iter().find(|c| c.0 == "s1" && c.1 == today());
        assert_eq!(cell.and_then(|c| c.2.as_deref()), Some(expect), "{choice}");
        assert_eq!(ann.shows("s1", today()).as_deref(), Some(expect));
        assert!(ann.state.marks.is_empty());
    }
}

/// "offline: …" is said once when the hub goes; when it is back, what
/// was said is no longer left standing.
#[tokio::test]
async fn offline_said_once_and_taken_back_when_connected_again() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ann = editor(&proxy.url(), "ann", dir.path()).await;
    proxy.refuse(true);
    proxy.cut_all();
    ann.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    assert!(ann.message().starts_with("offline: "), "{}", ann.message());
    proxy.refuse(false);
    ann.engine.reconnect_now();
    ann.until("connected", |s| {
        matches!(s.conn, ConnState::Connected { .. })
    })
    .await;
    assert_eq!(ann.message(), "connected again");
}

#[tokio::test]
async fn a_rejected_edit_shows_its_reason_and_is_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ann = editor(&proxy.url(), "ann", dir.path()).await;
    proxy.refuse(true);
    proxy.cut_all();
    ann.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    ann.keys("G");
    ann.type_text("D");
    // Meanwhile the person is removed on the hub.
    let (mut admin, _) = Client::join(&hub.url(), "admin", "admin-2", "default", 0).await;
    admin
        .edit(
            1,
            vec![Op::RemoveStaff {
                id: "s4".into(),
                base: None,
            }],
        )
        .await;
    proxy.refuse(false);
    ann.engine.reconnect_now();
    ann.until("rejected", |s| s.counts().2 == 1).await;
    assert!(ann.message().contains("rejected"), "{}", ann.message());
    let entry = ann.state.troubles()[0].clone();
    assert!(matches!(entry.state, EntryState::Rejected { .. }));
    ann.keys("c");
    assert!(matches!(ann.state.mode, Mode::Conflicts { .. }));
    ann.keys("m");
    assert!(ann.message().contains("dismiss"), "{}", ann.message());
    ann.keys("d");
    ann.until("dismissed", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(ann.state.mode, Mode::Normal);
    assert_eq!(
        ann.state.layout.staff.len(),
        3,
        "the removed person is hidden"
    );
}

#[tokio::test]
async fn jump_to_a_person_by_part_of_the_name_or_to_a_date() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.keys("g");
    ed.type_text("art");
    // Martin only ("art" is in Martin, not in the others).
    let Mode::Jump { query, .. } = &ed.state.mode else {
        panic!("jump mode: {:?}", ed.state.mode);
    };
    assert_eq!(query, "art");
    ed.keys("enter");
    assert_eq!(ed.at().0, "s3");
    // A name typed straight after g; ↓ picks the second match.
    ed.keys("g");
    ed.type_text("a");
    ed.keys("down enter");
    assert_eq!(
        ed.at().0,
        "s3",
        "Amara, then Chloe Martin: the second with an a"
    );
    ed.keys("g");
    ed.type_text("24");
    ed.keys("enter");
    assert_eq!(ed.at().1, day(23));
    ed.keys("g");
    ed.type_text("2027-03-01");
    ed.keys("enter");
    assert_eq!(ed.at().1, d("2027-03-01"), "the dates widen to include it");
    ed.keys("g");
    ed.type_text("zzz");
    ed.keys("enter");
    assert!(ed.message().contains("zzz"), "{}", ed.message());
    ed.keys("g esc");
    assert_eq!(ed.state.mode, Mode::Normal);
}

#[tokio::test]
async fn quit_with_unsaved_edits_asks_once_and_they_stay_queued() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ed = editor(&proxy.url(), "ann", dir.path()).await;
    ed.keys("q");
    assert!(ed.state.quit, "all saved: quits at once");
    ed.state.quit = false;
    proxy.refuse(true);
    proxy.cut_all();
    ed.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    ed.type_text("DN");
    ed.keys("q");
    assert!(!ed.state.quit);
    let m = ed.message();
    assert!(m.contains("2 edits") && m.contains("outbox"), "{m}");
    ed.keys("l");
    ed.keys("q");
    assert!(!ed.state.quit, "another key between: asks again");
    ed.keys("q");
    assert!(ed.state.quit);
    assert_eq!(ed.engine.outbox().len(), 2, "still queued");
}

/// `q` while an edit is on its way to a reachable hub: the editor says it
/// saves, and quits once the hub has it; another key stays.
#[tokio::test]
async fn quit_while_an_edit_is_on_its_way_quits_once_it_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.type_text("D");
    ed.keys("q");
    assert!(!ed.state.quit, "not yet: the edit is on its way");
    assert!(ed.message().contains("saving 1 edit"), "{}", ed.message());
    ed.until("quit once saved", |s| s.quit).await;
    assert!(ed.engine.outbox().is_empty(), "on the hub");
    // Another key after q: the editor stays.
    ed.state.quit = false;
    ed.type_text("N");
    ed.keys("q l");
    ed.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert!(!ed.state.quit, "l after q: stays");
}

/// `q` waits for an edit on its way; when the hub is lost meanwhile, the
/// editor says so (what is kept, that q quits) and a second `q` quits.
#[tokio::test]
async fn a_quit_waiting_for_a_hub_that_goes_says_so_and_q_quits() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ed = editor(&proxy.url(), "ann", dir.path()).await;
    proxy.refuse(true);
    proxy.stall_up(true);
    ed.type_text("D");
    ed.keys("q");
    assert!(ed.message().contains("saving 1 edit"), "{}", ed.message());
    proxy.cut_all();
    ed.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    let m = ed.message();
    assert!(
        m.starts_with("offline (")
            && m.contains("1 edit not yet on the hub")
            && m.ends_with("q again to quit"),
        "{m}"
    );
    assert!(!ed.state.quit);
    ed.keys("q");
    assert!(ed.state.quit, "the second q quits");
}

#[tokio::test]
async fn history_of_a_cell_comes_from_the_hub_and_offline_says_it_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ed = editor(&proxy.url(), "ann", dir.path()).await;
    ed.type_text("D");
    ed.keys("h");
    ed.type_text("N");
    ed.keys("h");
    ed.until("saved", |s| s.counts() == (0, 0, 0)).await;
    ed.keys("H");
    ed.until(
        "history",
        |s| matches!(&s.mode, Mode::History(p) if p.waiting.is_none() && !p.entries.is_empty()),
    )
    .await;
    let Mode::History(p) = &ed.state.mode else {
        unreachable!()
    };
    let seen: Vec<(String, serde_json::Value, serde_json::Value)> = p
        .entries
        .iter()
        .map(|e| (e.user.clone(), e.before.clone(), e.after.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ann".into(), "D".into(), "N".into()),
            ("ann".into(), serde_json::Value::Null, "D".into()),
        ],
        "newest first"
    );
    ed.keys("esc");
    proxy.refuse(true);
    proxy.cut_all();
    ed.until("offline", |s| matches!(s.conn, ConnState::Retrying { .. }))
        .await;
    ed.keys("H");
    let Mode::History(p) = &ed.state.mode else {
        panic!("history panel")
    };
    assert!(p.problem.as_deref().unwrap_or("").contains("hub"), "{p:?}");
}

#[tokio::test]
async fn others_cursors_and_changes_show() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let mut bob = editor(&hub.url(), "bob", dir.path()).await;
    bob.keys("j l");
    ann.until("bob's cursor", |s| {
        s.others.values().any(|o| {
            o.user == "bob"
                && o.cursor
                    .as_ref()
                    .is_some_and(|c| c.staff == "s2" && c.date == day(1))
        })
    })
    .await;
    bob.type_text("N");
    ann.until("bob's N", |s| {
        s.view
            .read(|r| r.cell("s2", day(1)).and_then(|(c, _)| c) == Some("N"))
    })
    .await;
    let (_, who) = ann.state.flash("s2", day(1)).expect("highlighted");
    assert_eq!(who, "bob");
    // It fades.
    ann.state.now += rota::tui::state::FLASH_MS;
    assert!(ann.state.flash("s2", day(1)).is_none());
}

/// A colleague's code written before the first date on my screen widens
/// my grid, and moves nothing I see: my cursor, the first date shown and
/// my block stay on their dates, and my next code lands where I was.
/// Found by a person: a colleague's far write moved the cursor months
/// away, and the next code landed there. Then a layout made again (the
/// period changed) keeps the first date shown.
#[tokio::test]
async fn a_colleagues_far_write_moves_nothing_on_my_screen() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    ann.keys("j l l v l j");
    let before = (
        ann.at(),
        ann.state.layout.date(ann.state.left),
        ann.state.selection().map(|b| (b.people(), b.days())),
    );
    let far = ann.state.layout.first.add_days(-200);
    bob.engine.set_cell("s1", far, Some("N")).unwrap();
    ann.until("bob's far N", |s| s.layout.col_of(far).is_some())
        .await;
    let after = (
        ann.at(),
        ann.state.layout.date(ann.state.left),
        ann.state.selection().map(|b| (b.people(), b.days())),
    );
    assert_eq!(after, before);
    ann.keys("esc");
    ann.type_text("D");
    assert_eq!(ann.shows(&before.0.0, before.0.1).as_deref(), Some("D"));
    // The period changed: the layout is made again, the same dates shown.
    let left = ann.state.layout.date(ann.state.left);
    bob.engine
        .edit(vec![Op::SetPeriod {
            from: day(-30),
            to: day(60),
        }])
        .unwrap();
    ann.until("the new period", |s| {
        s.view
            .read(|r| r.period().is_some_and(|p| p.from == day(-30)))
    })
    .await;
    assert_eq!(ann.state.layout.date(ann.state.left), left);
    assert!(ann.state.grid_cols() > 1);
}

/// A colleague's large batch (an import) is told by its count: the engine
/// keeps no copy of its changes in its event queue, the editor lays the
/// grid out again and says so, and every cell shows.
#[tokio::test]
async fn a_large_remote_batch_is_told_by_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let bob = editor(&hub.url(), "bob", dir.path()).await;
    let ops: Vec<Op> = (0..1_500)
        .map(|i| Op::SetCell {
            staff: format!("s{}", 1 + i % 4),
            date: day(i as i64 / 4),
            code: Some("N".into()),
            base: 0,
        })
        .collect();
    assert!(ops.len() > rota::sync::REMOTE_EVENT_CHANGES);
    bob.engine.edit_script(ops, "import", false).unwrap();
    ann.until("bob's import", |s| {
        s.message
            .as_ref()
            .is_some_and(|(m, _)| m.contains("1500 cells"))
    })
    .await;
    assert_eq!(ann.shows("s4", day(374)).as_deref(), Some("N"));
    assert!(ann.state.flashes.is_empty(), "no highlight per cell");
    assert!(
        ann.state.layout.col_of(day(374)).is_some(),
        "the dates widened"
    );
}

/// A colleague's edit that breaks a rule shows at once: the warning count
/// moves, `!` takes the cursor to it with its sentence, and undoing the
/// edit clears it.
#[tokio::test]
async fn a_colleagues_edit_that_breaks_a_rule_shows_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let mut bob = editor(&hub.url(), "bob", dir.path()).await;
    let rule = forbidden("no-d-after-n", "N", "D");
    bob.engine.edit(vec![rule]).unwrap();
    ann.until("the rule", |s| s.view.read(|r| !r.rules().is_empty()))
        .await;
    assert_eq!(ann.state.findings.len(), 0);
    // Bob, on Ben Hughes: N then D.
    bob.keys("j");
    bob.type_text("ND");
    ann.until("the warning", |s| s.findings.len() == 1).await;
    ann.keys("!");
    assert_eq!(ann.at(), ("s2".into(), today()), "taken to it");
    let m = ann.message();
    assert!(
        m.contains("1 of 1: Ben Hughes: N on Tue 1 Dec then D on Wed 2 Dec"),
        "{m}"
    );
    bob.keys("u");
    ann.until("cleared", |s| s.findings.is_empty()).await;
}

/// An editor whose local file was emptied says so in the status line (as
/// a warning), and shows the roster again from the hub.
#[tokio::test]
async fn a_damaged_local_file_is_said_in_the_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, ed) = hub_and_editor(dir.path(), "ann").await;
    let path = ed.engine.config().local_path();
    drop(ed);
    std::fs::write(&path, b"").unwrap();
    let ed = editor(&hub.url(), "ann", dir.path()).await;
    let (m, warning) = ed.state.message.clone().unwrap_or_default();
    assert!(warning, "shown as a warning");
    assert!(
        m.starts_with("the local file was damaged (the file is empty (0 bytes)): kept aside as "),
        "{m}"
    );
    assert_eq!(ed.state.layout.staff.len(), 4, "the roster from the hub");
}

/// A panel that asks the hub ends in the answer even when the answer
/// reaches the editor before the worker says it asked (the engine's
/// events and the worker's results race in the app loop): the history of
/// a cell, and the users tab on a hub without accounts (a refusal). Found
/// by a person: `H` stayed at "asking the hub…" 8 times in 10.
#[tokio::test]
async fn a_panel_takes_the_hubs_answer_that_comes_before_its_question_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    ed.type_text("N");
    ed.keys("h");
    ed.until("saved", |s| s.counts() == (0, 0, 0)).await;
    ed.key_answered_first("H", |e| matches!(e, SyncEvent::History { .. }))
        .await;
    let Mode::History(p) = &ed.state.mode else {
        panic!("the history panel: {:?}", ed.state.mode)
    };
    assert!(p.waiting.is_none(), "still waiting: {p:?}");
    assert_eq!(p.entries.len(), 1, "{p:?}");
    ed.keys("esc m tab tab tab");
    ed.key_answered_first("tab", |e| matches!(e, SyncEvent::RequestFailed { .. }))
        .await;
    assert!(ed.state.users.waiting.is_none(), "{:?}", ed.state.users);
    let problem = ed.state.users.problem.clone().unwrap_or_default();
    assert!(problem.contains("no accounts"), "{problem}");
}

/// A question the hub does not answer is given up after its time, said,
/// and asked again with `r`: the hub's answers held back by a proxy.
#[tokio::test]
async fn an_unanswered_question_times_out_and_r_asks_again() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    roster(&hub.url()).await;
    let proxy = Proxy::start(hub.addr).await;
    let mut ed = editor(&proxy.url(), "ann", dir.path()).await;
    proxy.stall_down(true);
    ed.keys("H");
    let asked = match &ed.state.mode {
        Mode::History(p) => p.waiting.expect("waiting for the hub"),
        m => panic!("{m:?}"),
    };
    assert_eq!(
        ed.state.next_wakeup(),
        Some(asked.until),
        "wakes to give up"
    );
    // Time passes (the app loop sets the clock, then ticks).
    ed.state.now = asked.until;
    rota::tui::update::update(&mut ed.state, rota::tui::action::Action::Tick);
    let Mode::History(p) = &ed.state.mode else {
        panic!("history panel")
    };
    assert!(p.waiting.is_none());
    let problem = p.problem.clone().unwrap_or_default();
    assert!(
        problem.contains("did not answer within 10 s") && problem.contains("r asks again"),
        "{problem}"
    );
    proxy.stall_down(false);
    ed.keys("r");
    ed.until(
        "the answer",
        |s| matches!(&s.mode, Mode::History(p) if p.waiting.is_none() && p.problem.is_none()),
    )
    .await;
}

/// A stray jump far away and a code typed there change no rule warning,
/// nor the roster's planning period; undo says what it took back and
/// goes there. Found by a person: `g 14/12` in March 2027 went to Dec
/// 2027, and a code typed there took the warnings from 18 to 1,101 for
/// good.
#[tokio::test]
async fn a_code_typed_far_away_changes_no_warning_and_undo_says_what() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ed) = hub_and_editor(dir.path(), "ann").await;
    let mut admin = editor(&hub.url(), "admin", dir.path()).await;
    admin.edit(vec![common::staffing("cover-n", "N", 1, None)]);
    ed.until("the rule", |s| !s.findings.coverage_rows().is_empty())
        .await;
    let period = ed.state.view.read(|r| r.period());
    let warnings = ed.state.findings.len();
    assert!(warnings > 0, "November and December lack nights");
    // From March 2027, `14/12` is the nearest 14 December: 2026.
    ed.keys("g");
    ed.type_text("2027-03-10");
    ed.keys("enter g");
    ed.type_text("14/12");
    ed.keys("enter");
    assert_eq!(ed.at().1, d("2026-12-14"));
    // A year later, outside the period: kept, never checked.
    ed.keys("g");
    ed.type_text("14/12/2027");
    ed.keys("enter");
    assert_eq!(ed.at().1, d("2027-12-14"));
    ed.type_text("N");
    ed.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(ed.shows("s1", d("2027-12-14")).as_deref(), Some("N"));
    assert_eq!(ed.state.findings.len(), warnings, "not checked");
    assert_eq!(ed.state.view.read(|r| r.period()), period);
    // Undo: what it took back, and the cursor on it.
    ed.keys("g g t");
    ed.keys("u");
    assert!(
        ed.message()
            .starts_with("undone: Amara Okafor, Tue 14 Dec: empty"),
        "{}",
        ed.message()
    );
    assert_eq!(ed.at(), ("s1".into(), d("2027-12-14")));
    ed.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(ed.state.findings.len(), warnings);
    assert_eq!(ed.state.view.read(|r| r.period()), period);
    // The same by script: the checked warnings did not move on the hub.
    let hub_roster = ed.engine.server_roster();
    assert_eq!(
        rota::domain::rules::Findings::new(&hub_roster).len(),
        warnings
    );
}

/// A request typed at `R` in one editor goes through the engine to the
/// hub and the other editor (who entered it: the account); a code that
/// stops meeting it makes it an unmet request in both (a soft finding,
/// not a rule warning); undo withdraws it and shows its cell.
#[tokio::test]
async fn a_request_typed_in_one_editor_reaches_the_other_and_undo_withdraws_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let mut bob = editor(&hub.url(), "bob", dir.path()).await;
    assert!(
        !bob.state.layout.requests,
        "no requests, no column for them"
    );
    ann.keys("R");
    ann.type_text("off N 2, school run");
    ann.keys("enter");
    assert!(
        ann.message().contains(
            "request of Amara Okafor on Tue 1 Dec 2026: off N, weight 2, school run (met)"
        ),
        "{}",
        ann.message()
    );
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    bob.until("ann's request", |s| {
        s.view.read(|r| r.request("s1", today()).is_some())
    })
    .await;
    let r = bob
        .state
        .view
        .read(|r| r.request("s1", today()).cloned())
        .expect("a request");
    assert_eq!(
        (r.wish.to_string(), r.weight, r.note.as_str(), r.by.as_str()),
        ("off N".to_string(), 2, "school run", "ann")
    );
    assert!(bob.state.layout.requests, "the grid makes room for marks");
    // Bob puts Amara on N that day: the request is unmet, for both.
    bob.type_text("N");
    assert_eq!(bob.state.findings.unmet_of("s1").len(), 1);
    ann.until("bob's N, unmet", |s| s.findings.unmet_of("s1").len() == 1)
        .await;
    assert_eq!(ann.state.findings.len(), 0, "not a rule warning");
    // Undo in ann (moved away first): withdrawn, the cursor back on it.
    ann.keys("j l");
    ann.keys("u");
    assert!(ann.message().starts_with("undone:"), "{}", ann.message());
    assert_eq!(ann.at(), ("s1".to_string(), today()), "shows its cell");
    assert!(ann.state.view.read(|r| r.request("s1", today()).is_none()));
    bob.until("withdrawn", |s| {
        s.view.read(|r| r.request("s1", today()).is_none())
    })
    .await;
    assert_eq!(bob.state.findings.unmet_count(), 0);
    assert!(!bob.state.layout.requests);
}

/// Issue 22: ann (an admin, on a hub without accounts) publishes the
/// planning period from the editor (`P`, Enter, a note, Enter, `y`): one
/// publication goes through the engine to the hub and reaches bob's
/// editor, whose grid makes room for the marks; a cell ann changes after
/// it is an unpublished change in both, and bob's `]` takes him to it.
#[tokio::test]
async fn a_publication_from_one_editor_reaches_the_other_and_a_change_after_it_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    let mut bob = editor(&hub.url(), "bob", dir.path()).await;
    ann.type_text("D");
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert!(!bob.state.layout.publishes && !ann.state.layout.publishes);
    ann.keys("P enter");
    ann.type_text("December");
    ann.keys("enter");
    assert!(
        matches!(&ann.state.mode, Mode::Publish(_)),
        "asks first: {:?}",
        ann.state.mode
    );
    ann.keys("y");
    assert!(
        ann.message()
            .starts_with("published Sun 1 Nov to Thu 31 Dec 2026 (1 cell) as publication 1"),
        "{}",
        ann.message()
    );
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    bob.until("ann's publication", |s| s.layout.publishes).await;
    let published = bob.state.view.read(|r| {
        (
            r.last_publication()
                .map(|p| (p.number, p.note.clone(), p.by.clone())),
            r.published_cell("s1", today()).map(str::to_string),
        )
    });
    assert_eq!(
        published,
        (
            Some((1, "December".to_string(), "ann".to_string())),
            Some("D".to_string())
        )
    );
    assert!(bob.state.unpublished.is_empty());
    // Ann changes the cell: unpublished, at once in hers, then in bob's.
    ann.keys("h");
    ann.type_text("N");
    assert_eq!(ann.state.unpublished.len(), 1);
    bob.until("ann's change, unpublished", |s| s.unpublished.len() == 1)
        .await;
    bob.keys("G ]");
    assert_eq!(bob.at(), ("s1".to_string(), today()));
    assert_eq!(
        bob.message(),
        "1 of 1: Amara Okafor Tue 1 Dec: published D, now N"
    );
}

/// Issue 22: an admin's users tab, on a hub with accounts, adds a member
/// of staff bound to a row: the role typed is `staff`, the form asks for
/// the row (the cursor's person, Ben), and the hub binds the new user to
/// it; the list shows the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_tab_adds_a_member_of_staff_bound_to_a_row_on_the_hub() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let token = AccountsFile::open_in(dir.path())
        .unwrap()
        .add_user(
            "ann",
            Grant::Role {
                roster: "default".into(),
                role: Role::Admin,
            },
        )
        .unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut c, _) = Client::hello_as(&hub.url(), &token, "ann", "c-setup", "default").await;
    let ack = c
        .edit(1, common::editor::four_people(&[("D", ""), ("N", "")]))
        .await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
    let mut config = engine_config(&hub.url(), "ann", &dir.path().join("ann"));
    config.token = Some(token);
    let engine = rota::sync::SyncEngine::start(config).expect("engine starts");
    wait_connected(&engine).await;
    let mut ann = Ed::new(engine, today());
    ann.until("the roster", |s| s.layout.staff.len() == 4).await;
    ann.keys("j m tab tab tab tab");
    ann.until("the users", |s| {
        s.users.users.iter().any(|u| u.user == "ann")
    })
    .await;
    ann.keys("a");
    ann.type_text("kim");
    ann.keys("tab backspace backspace backspace backspace backspace backspace");
    ann.type_text("staff");
    ann.keys("enter");
    ann.until("kim, bound to Ben's row", |s| {
        s.users
            .users
            .iter()
            .any(|u| u.user == "kim" && u.role == "staff" && u.staff.as_deref() == Some("s2"))
    })
    .await;
    assert!(
        ann.state
            .users
            .token
            .as_ref()
            .is_some_and(|(u, _)| u == "kim"),
        "the new user's token is shown once"
    );
    let lines = rota::tui::forms::user_lines(&ann.state.users.users);
    assert!(
        lines
            .iter()
            .any(|(_, l)| l.starts_with("kim") && l.contains("staff (row s2)")),
        "{lines:?}"
    );
    let accounts = AccountsFile::open_in(dir.path()).unwrap().load().unwrap();
    assert_eq!(accounts.staff_row("kim", "default"), Some("s2"));
}

/// Found by issue 22's trial: undoing a request said "undone: Amara
/// Okafor's request on 2026-12-16", an ISO date unlike the rest of the
/// editor, and not what came back. It is said as a cell's undo is: who,
/// the date as the editor writes it, and the request that came back (or
/// that it is withdrawn); redo too.
#[tokio::test]
async fn undoing_a_request_says_what_came_back_as_a_cells_undo_does() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    ann.keys("R");
    ann.type_text("off N 2, school run");
    ann.keys("enter R ctrl-u");
    ann.type_text("off 3");
    ann.keys("enter");
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    ann.keys("u");
    assert_eq!(
        ann.message(),
        "undone: Amara Okafor, Tue 1 Dec: request off N (weight 2, school run)"
    );
    ann.keys("u");
    assert_eq!(
        ann.message(),
        "undone: Amara Okafor, Tue 1 Dec: request withdrawn"
    );
    ann.keys("ctrl-r");
    assert_eq!(
        ann.message(),
        "redone: Amara Okafor, Tue 1 Dec: request off N (weight 2, school run)"
    );
}

/// Found by issue 22's trial: `H` on a cell with a request showed each
/// request entered or changed as `(empty) → (empty)`. From the real hub,
/// a request's changes are said as a request's, the cell's as a cell's.
#[tokio::test]
async fn a_cells_history_from_the_hub_says_its_request_changes_as_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, mut ann) = hub_and_editor(dir.path(), "ann").await;
    ann.type_text("D");
    ann.keys("h R");
    ann.type_text("off N 2, school run");
    ann.keys("enter R ctrl-u");
    ann.type_text("off 3");
    ann.keys("enter R ctrl-u enter");
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    ann.keys("H");
    ann.until(
        "history",
        |s| matches!(&s.mode, Mode::History(p) if p.waiting.is_none() && !p.entries.is_empty()),
    )
    .await;
    let Mode::History(p) = &ann.state.mode else {
        unreachable!()
    };
    let said: Vec<String> = p
        .entries
        .iter()
        .map(rota::tui::view::history_change)
        .collect();
    assert_eq!(
        said,
        vec![
            "request withdrawn: off",
            "request: off N (weight 2, school run) → off (weight 3)",
            "request: off N (weight 2, school run)",
            "(empty) → D",
        ],
        "newest first"
    );
    let line = rota::tui::view::history_line(&ann.state, &p.entries[1]);
    assert!(
        line.contains("ann") && line.ends_with("→ off (weight 3)"),
        "{line}"
    );
}

/// Issue 22: a member of staff whose published shifts changed is told so
/// when they next open the editor; a draft change is not a change of
/// theirs until it is published; nothing is said the first time, nor
/// when nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_staff_is_told_how_their_shifts_changed_since_they_last_looked() {
    use rota::accounts::{AccountsFile, Grant, Role};
    use rota::domain::Op;
    let dir = tempfile::tempdir().unwrap();
    let mut file = AccountsFile::open_in(dir.path()).unwrap();
    let admin = file
        .add_user(
            "ann",
            Grant::Role {
                roster: "default".into(),
                role: Role::Admin,
            },
        )
        .unwrap();
    let kim = file
        .add_user(
            "kim",
            Grant::Staff {
                roster: "default".into(),
                staff: "s2".into(),
            },
        )
        .unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut c, _) = Client::hello_as(&hub.url(), &admin, "ann", "c-setup", "default").await;
    let mut ops = common::editor::four_people(&[("D", ""), ("N", "")]);
    ops.push(set("s2", "2026-12-03", Some("D"), 0));
    ops.push(set("s2", "2026-12-04", Some("D"), 0));
    ops.push(Op::Publish {
        from: d("2026-12-01"),
        to: d("2026-12-31"),
        note: String::new(),
    });
    ack_seq(&c.edit(1, ops).await);
    let data = dir.path().join("kim");
    let open = |data: &std::path::Path| {
        let mut config = engine_config(&hub.url(), "kim", data);
        config.token = Some(kim.clone());
        rota::sync::SyncEngine::start(config).expect("engine starts")
    };
    // The first look: nothing to compare, nothing said.
    let engine = open(&data);
    wait_connected(&engine).await;
    let mut ed = Ed::new(engine, today());
    ed.until("bound to Ben's row", |s| s.own_row() == Some("s2"))
        .await;
    ed.until("compared", |s| s.shifts_checked).await;
    assert!(
        !ed.message().contains("your shifts changed"),
        "{}",
        ed.message()
    );
    close(ed);

    // A draft change, then a published one, then one of someone else's.
    ack_seq(&c.edit(2, vec![set("s2", "2026-12-04", Some("N"), 0)]).await);
    ack_seq(&c.edit(3, vec![set("s2", "2026-12-03", Some("N"), 0)]).await);
    let publish = Op::Publish {
        from: d("2026-12-03"),
        to: d("2026-12-03"),
        note: "nights".into(),
    };
    ack_seq(&c.edit(4, vec![publish]).await);
    ack_seq(&c.edit(5, vec![set("s1", "2026-12-05", Some("N"), 0)]).await);
    let publish = Op::Publish {
        from: d("2026-12-05"),
        to: d("2026-12-05"),
        note: String::new(),
    };
    ack_seq(&c.edit(6, vec![publish]).await);
    let engine = open(&data);
    wait_connected(&engine).await;
    let mut ed = Ed::new(engine, today());
    ed.until("told", |s| {
        s.message
            .as_ref()
            .is_some_and(|(m, _)| m.contains("your shifts changed"))
    })
    .await;
    assert_eq!(
        ed.message(),
        "your shifts changed since you last looked: Thu 3 Dec D -> N"
    );
    close(ed);
    // Opened again with nothing new: nothing said.
    let engine = open(&data);
    wait_connected(&engine).await;
    let mut ed = Ed::new(engine, today());
    ed.until("compared", |s| s.shifts_checked).await;
    assert!(
        !ed.message().contains("your shifts changed"),
        "{}",
        ed.message()
    );
    hub.stop().await.unwrap();
}

/// Stops an editor's engine, so that its data dir can be opened again.
fn close(ed: Ed) {
    if let Ok(engine) = std::sync::Arc::try_unwrap(ed.engine) {
        engine.shutdown();
    }
}
