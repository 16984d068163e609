//! Issue 23, the fill in the editor: two editors on a real hub. One fills
//! (ctrl-f, the search off the screen's thread), the other sees the
//! proposals, writes a proposed cell of its own (no longer proposed),
//! accepts a block of them (`+`, one edit) and undoes that; the first
//! discards the rest (`-`). The hub holds exactly the cells people set or
//! accepted, and proposals reach no staff member.

use crate::common;

use common::editor::Ed;
use common::*;
use rota::domain::{Date, Op, Roster};
use rota::tui::config::Config;

/// Tuesday 1 December 2026, as the editors see it.
fn today() -> Date {
    d("2026-12-01")
}

/// Instance1 (8 people, 14 days) laid from Monday 30 November 2026.
fn instance_ops() -> Vec<Op> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nrp/Instance1.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let inst = rota::script::nrp::parse(&text).unwrap();
    rota::script::nrp::plan(&inst, d("2026-11-30"), &Roster::default()).ops
}

async fn editor(url: &str, user: &str, dir: &std::path::Path, people: usize) -> Ed {
    let engine = start_engine(url, user, &dir.join(user));
    wait_connected(&engine).await;
    let config = Config {
        fill_seconds: 1,
        ..Config::default()
    };
    let mut ed = Ed::with_config(engine, today(), config);
    ed.until("the roster", |s| s.layout.staff.len() == people)
        .await;
    ed
}

fn proposals(ed: &Ed) -> usize {
    ed.state.view.read(|r| r.proposal_count())
}

/// Moves `ed`'s cursor to `staff`'s cell on `date` (on or after today).
fn to_cell(ed: &mut Ed, staff: &str, date: Date) {
    let row = ed
        .state
        .layout
        .staff
        .iter()
        .position(|p| p.id == staff)
        .unwrap();
    ed.keys("t g g");
    for _ in 0..row {
        ed.keys("j");
    }
    while ed.at().1 < date {
        ed.keys("l");
    }
    assert_eq!(ed.at(), (staff.to_string(), date));
}

/// Moves `ed`'s cursor to a proposed cell of today (the first person's
/// with one) and says which.
fn to_a_proposal_today(ed: &mut Ed) -> (String, Date) {
    let (staff, date, _) = ed
        .state
        .view
        .read(|r| rota::tui::fill::proposals_in(r, None, today(), today()))
        .into_iter()
        .next()
        .expect("a proposal today");
    to_cell(ed, &staff, date);
    (staff, date)
}

/// `filler` fills the planning period (its proposals saved), and `other`
/// sees them all; how many.
async fn fill_seen_by(filler: &mut Ed, other: &mut Ed) -> usize {
    filler.keys("ctrl-f");
    assert!(
        filler.message().contains("proposes"),
        "{}",
        filler.message()
    );
    assert!(filler.state.filling.is_none(), "the search ended");
    let made = proposals(filler);
    assert!(made > 20, "{made} proposals");
    filler.until("saved", |s| s.counts() == (0, 0, 0)).await;
    other
        .until("the proposals", |s| {
            s.view.read(|r| r.proposal_count()) == made
        })
        .await;
    made
}

fn filled(cells: &[CellRow]) -> Vec<CellRow> {
    cells.iter().filter(|c| c.2.is_some()).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_editor_fills_the_other_accepts_part_and_the_hub_holds_exactly_that() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
    let ack = admin.edit(1, instance_ops()).await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
    let (_, imported) = hub_cells(&hub.url()).await;
    let imported = filled(&imported);
    let people = 8;
    let mut ann = editor(&hub.url(), "ann", dir.path(), people).await;
    let mut bob = editor(&hub.url(), "bob", dir.path(), people).await;

    // Ann fills the planning period: proposals, one edit, nothing saved.
    ann.keys("ctrl-f");
    assert!(ann.message().contains("proposes"), "{}", ann.message());
    assert!(ann.state.filling.is_none(), "the search ended");
    let made = proposals(&ann);
    assert!(made > 20, "{made} proposals");
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(filled(&cells), imported, "a proposal is no cell");

    // Bob sees them. His own fill of everything works round them: it never
    // withdraws a colleague's proposal (a new-user trial lost 50 so).
    bob.until("ann's proposals", |s| {
        s.view.read(|r| r.proposal_count()) == made
    })
    .await;
    assert!(
        bob.message().contains(&format!(
            "ann proposed {}: + accepts",
            rota::tui::fill::count(made, "cell")
        )),
        "told whose they are: {}",
        bob.message()
    );
    let anns = bob.state.view.read(|r| r.proposals());
    bob.keys("ctrl-f");
    let added = proposals(&bob) - made;
    for p in &anns {
        assert_eq!(
            bob.state
                .view
                .read(|r| r.proposal(&p.staff, p.date).map(str::to_string)),
            Some(p.code.clone()),
            "{} {} kept",
            p.staff,
            p.date
        );
    }
    if added > 0 {
        bob.keys("u");
        assert!(bob.message().contains("proposal"), "{}", bob.message());
    }
    bob.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(proposals(&bob), made);
    // He writes one proposed cell himself: no longer proposed, for either
    // of them.
    let (mine_staff, mine_date) = to_a_proposal_today(&mut bob);
    let code = bob.state.view.read(|r| r.codes()[0].code.clone());
    bob.keys("i");
    bob.type_text(&code);
    bob.keys("enter");
    assert_eq!(bob.shows(&mine_staff, mine_date), Some(code.clone()));
    ann.until("bob's cell, no longer proposed", |s| {
        s.view.read(|r| {
            r.proposal(&mine_staff, mine_date).is_none() && r.proposal_count() == made - 1
        })
    })
    .await;

    // Bob accepts a block: the first two people, today and the next two
    // days; exactly its proposals become cells, as one edit.
    bob.keys("t g g");
    let ids: Vec<String> = bob.state.layout.staff[..2]
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let block = bob
        .state
        .view
        .read(|r| rota::tui::fill::proposals_in(r, Some(&ids), today(), today().add_days(2)));
    assert!(!block.is_empty());
    bob.keys("v l l j");
    bob.keys("+");
    assert!(bob.message().starts_with("accepted"), "{}", bob.message());
    bob.until("saved", |s| s.counts() == (0, 0, 0)).await;
    let mut want = imported.clone();
    want.push((mine_staff.clone(), mine_date, Some(code.clone())));
    want.extend(
        block
            .iter()
            .map(|(s, d, c)| (s.clone(), *d, Some(c.clone()))),
    );
    want.sort();
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(
        filled(&cells),
        want,
        "the hub holds exactly what was set or accepted"
    );
    let left = made - 1 - block.len();
    ann.until("the rest still proposed", |s| {
        s.view.read(|r| r.proposal_count()) == left
    })
    .await;
    assert_eq!(
        ann.message(),
        format!(
            "bob accepted {}",
            rota::tui::fill::count(block.len(), "proposal")
        )
    );

    // Undo takes the accepted cells back and proposes them again.
    bob.keys("u");
    assert!(bob.message().starts_with("undone"), "{}", bob.message());
    assert!(
        bob.message().ends_with(&format!(
            "{} proposed",
            rota::tui::fill::count(block.len(), "cell")
        )) && !bob.message().contains("settings"),
        "{}",
        bob.message()
    );
    bob.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(proposals(&bob), left + block.len());
    for (s, d, _) in &block {
        assert_eq!(bob.shows(s, *d), None);
    }

    // `x` on one proposed cell discards that proposal only.
    ann.until("the undo", |s| {
        s.view.read(|r| r.proposal_count()) == left + block.len()
    })
    .await;
    let (one_staff, one_date, _) = block[0].clone();
    to_cell(&mut ann, &one_staff, one_date);
    ann.keys("x");
    assert!(ann.message().starts_with("discarded"), "{}", ann.message());
    assert_eq!(proposals(&ann), left + block.len() - 1);
    assert!(
        ann.state
            .view
            .read(|r| r.proposal(&one_staff, one_date).is_none())
    );
    // Ann discards every proposal: none left anywhere, no cell changed.
    ann.keys("-");
    assert!(ann.message().starts_with("discarded"), "{}", ann.message());
    bob.until("none left", |s| s.view.read(|r| r.proposal_count()) == 0)
        .await;
    assert!(
        bob.message().starts_with("ann discarded") && bob.message().ends_with("proposals"),
        "{}",
        bob.message()
    );
    let mut want = imported.clone();
    want.push((mine_staff, mine_date, Some(code)));
    want.sort();
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(filled(&cells), want);
    hub.stop().await.unwrap();
}

/// Connects with `token` as `user` on roster `ward`, saying a seq the hub
/// never gave (it answers with a snapshot).
async fn snapshot_as(url: &str, token: &str, user: &str) -> rota::protocol::Snapshot {
    use rota::protocol::{ClientMsg, PROTOCOL_VERSION, ServerMsg};
    let mut c = Client::raw_as(url, Some(token)).await.expect("upgraded");
    c.send(&ClientMsg::Hello {
        protocol: PROTOCOL_VERSION.into(),
        user: user.into(),
        client_id: format!("c-{user}-snap"),
        token: None,
        roster: "ward".into(),
        last_seq: u64::MAX,
        view: Default::default(),
    })
    .await;
    match c.answer().await {
        ServerMsg::Welcome {
            snapshot: Some(s), ..
        } => *s,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

/// Proposals reach editors only: a batch of proposals alone is not sent to
/// staff at all, a mixed one without its proposals (even before the roster
/// ever publishes, when staff see draft cells), and neither a staff
/// member's snapshot nor their history holds one; an editor's snapshot
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_reach_editors_and_never_staff() {
    use rota::accounts::{AccountsFile, Grant, Role};
    use rota::domain::Change;
    use rota::protocol::{ClientMsg, HistoryQuery, ServerMsg};
    let dir = tempfile::tempdir().unwrap();
    let mut file = AccountsFile::open_in(dir.path()).unwrap();
    let owner = file.add_user("olga", Grant::Owner).unwrap();
    let editor = file
        .add_user(
            "ed",
            Grant::Role {
                roster: "ward".into(),
                role: Role::Editor,
            },
        )
        .unwrap();
    let staff = file
        .add_user(
            "sue",
            Grant::Staff {
                roster: "ward".into(),
                staff: "s1".into(),
            },
        )
        .unwrap();
    let hub = Hub::start(dir.path()).await;
    let url = hub.url();
    let (mut olga, _) = Client::hello_as(&url, &owner, "olga", "c-olga", "ward").await;
    ack_seq(&olga.edit(1, setup_ops(3)).await);
    let (mut ed, _) = Client::hello_as(&url, &editor, "ed", "c-ed", "ward").await;
    let (mut sue, _) = Client::hello_as(&url, &staff, "sue", "c-sue", "ward").await;
    let propose = |s: &str, date: &str, code: &str| Op::Propose {
        staff: s.into(),
        date: d(date),
        code: Some(code.into()),
    };
    ack_seq(
        &ed.edit(
            1,
            vec![
                propose("s1", "2026-12-01", "D"),
                propose("s2", "2026-12-01", "N"),
            ],
        )
        .await,
    );
    let mixed = ack_seq(
        &ed.edit(
            2,
            vec![
                set("s1", "2026-12-02", Some("N"), 0),
                propose("s3", "2026-12-02", "D"),
            ],
        )
        .await,
    );
    // The first thing staff hear is the mixed batch, without its proposal.
    let ServerMsg::Change(cs) = sue.recv_until(|m| matches!(m, ServerMsg::Change(_))).await else {
        unreachable!()
    };
    assert_eq!(cs.seq, mixed, "{cs:?}");
    assert!(
        cs.changes
            .iter()
            .all(|c| !matches!(c, Change::Proposal { .. })),
        "{cs:?}"
    );
    assert!(cs.changes.iter().any(|c| matches!(c, Change::Cell { .. })));
    // Snapshots: none for staff, three for the editor.
    assert!(snapshot_as(&url, &staff, "sue").await.proposals.is_empty());
    assert_eq!(snapshot_as(&url, &editor, "ed").await.proposals.len(), 3);
    // History: none for staff.
    sue.send(&ClientMsg::History {
        req: Some(9),
        query: HistoryQuery {
            staff: Some("s1".into()),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = sue
        .recv_until(|m| matches!(m, ServerMsg::History { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e.entity != "proposal"),
        "{entries:?}"
    );
    hub.stop().await.unwrap();
}

/// The fill runs beside the editor's other work, never holding it up, and
/// stops when told (Esc), ending with the best it found: through the app's
/// own effects worker, on a real engine and hub. An edit sent after the
/// fill began is answered while the fill still runs (it was given a
/// minute), then the stop ends it at once with its proposals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fill_runs_beside_other_work_and_esc_stops_it_with_the_best_so_far() {
    use rota::tui::action::{Action, Effect};
    use rota::tui::fill::{Ask, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
    ack_seq(&admin.edit(1, instance_ops()).await);
    let engine = start_engine(&hub.url(), "ann", &dir.path().join("ann"));
    wait_connected(&engine).await;
    let (seq, _) = hub_cells(&hub.url()).await;
    wait_synced(&engine, seq).await;
    let engine = std::sync::Arc::new(engine);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = rota::tui::effects::Worker::start(engine.clone(), tx).unwrap();
    worker.send(Effect::Fill(Ask {
        from: d("2026-11-30"),
        to: d("2026-12-13"),
        staff: None,
        seconds: 60,
    }));
    worker.send(Effect::Edit {
        ops: vec![set("A", "2026-12-10", Some("D"), 0)],
        what: "a cell".into(),
    });
    // The edit is answered, and the search says how it goes, before the
    // fill ends (it was given 60 s).
    let (mut edited, mut progressed) = (false, false);
    while !(edited && progressed) {
        match next(&mut rx).await {
            Action::Edited { what, .. } => edited = what == "a cell",
            Action::FillProgress(_) => progressed = true,
            Action::FillDone(o) => panic!("the fill ended unasked: {o:?}"),
            _ => {}
        }
    }
    worker.send(Effect::StopFill);
    // Within `next`'s 20 s, not the minute it was given.
    let outcome = loop {
        if let Action::FillDone(o) = next(&mut rx).await {
            break o;
        }
    };
    let Outcome::Proposed {
        ops,
        cells,
        stopped,
        before,
        after,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(stopped, "said stopped");
    assert!(cells > 0 && !ops.is_empty());
    assert!(after.rank() <= before.rank(), "{before:?} -> {after:?}");
    // Nothing proposed on the cell the edit wrote meanwhile.
    assert!(ops.iter().all(|op| !matches!(op,
        Op::Propose { staff, date, .. } if staff == "A" && *date == d("2026-12-10"))));
    worker.finish();
    hub.stop().await.unwrap();
}

/// The worker's next action, within 20 s.
async fn next(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<rota::tui::action::Action>,
) -> rota::tui::action::Action {
    tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
        .await
        .expect("an action in time")
        .expect("the worker's channel")
}

/// `q` while a fill runs asks first (the search would be dropped), and the
/// search's progress does not write over that question; `+` waits too.
#[test]
fn q_while_filling_asks_first_and_progress_keeps_the_question() {
    use rota::tui::action::{Action, Command};
    use rota::tui::update::update;
    let mut s = rota::tui::state::State::new(
        "default",
        "ann",
        rota::sync::ViewReader::detached(Roster::default()),
        Config::default(),
        today(),
        0,
    );
    update(&mut s, Action::Resize(100, 30));
    s.filling = Some(None);
    update(&mut s, Action::Do(Command::Quit));
    assert!(!s.quit, "not at the first q");
    let asked = s.message.clone().expect("a question");
    assert!(asked.1 && asked.0.contains("q again"), "{asked:?}");
    let progress = rota::tui::fill::Progress {
        best: Default::default(),
        before: Default::default(),
        moves: 1,
        millis: 250,
    };
    update(&mut s, Action::FillProgress(progress.clone()));
    assert_eq!(s.message.as_ref(), Some(&asked), "the question stays");
    update(&mut s, Action::Do(Command::AcceptProposals));
    assert!(
        s.message
            .as_ref()
            .is_some_and(|(m, _)| m.contains("a fill is running")),
        "{:?}",
        s.message
    );
    update(&mut s, Action::Do(Command::Quit));
    update(&mut s, Action::Do(Command::Quit));
    assert!(s.quit, "q twice quits");
}

/// Undoing a fill after a colleague discarded part of it withdraws only
/// what is still proposed, and says so: "undone: N proposals withdrawn"
/// counts the proposals that were there, not every one the fill made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undoing_a_fill_a_colleague_partly_discarded_withdraws_and_counts_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
    assert!(ack_seq(&admin.edit(1, instance_ops()).await) > 0);
    let people = 8;
    let mut ann = editor(&hub.url(), "ann", dir.path(), people).await;
    let mut bob = editor(&hub.url(), "bob", dir.path(), people).await;
    let made = fill_seen_by(&mut ann, &mut bob).await;
    // Bob discards one of them.
    to_a_proposal_today(&mut bob);
    bob.keys("x");
    assert!(bob.message().starts_with("discarded"), "{}", bob.message());
    ann.until("bob's discard", |s| {
        s.view.read(|r| r.proposal_count()) == made - 1
    })
    .await;
    // Ann undoes her fill: asked first (bob changed one since), then only
    // the proposals left are withdrawn.
    ann.keys("u");
    if matches!(ann.state.mode, rota::tui::state::Mode::ConfirmUndo { .. }) {
        ann.keys("y");
    }
    assert_eq!(
        ann.message(),
        format!(
            "undone: {} withdrawn",
            rota::tui::fill::count(made - 1, "proposal")
        )
    );
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    assert_eq!(proposals(&ann), 0);
    bob.until("none left", |s| s.view.read(|r| r.proposal_count()) == 0)
        .await;

    // Ann fills again and bob discards it all: her undo has nothing left
    // to do, and says so rather than withdrawing nothing by name.
    fill_seen_by(&mut ann, &mut bob).await;
    bob.keys("-");
    assert!(bob.message().starts_with("discarded"), "{}", bob.message());
    ann.until("all discarded", |s| {
        s.view.read(|r| r.proposal_count()) == 0
    })
    .await;
    ann.keys("u");
    if matches!(ann.state.mode, rota::tui::state::Mode::ConfirmUndo { .. }) {
        ann.keys("y");
    }
    assert!(
        ann.message().starts_with("nothing left to undo"),
        "{}",
        ann.message()
    );
    ann.until("saved", |s| s.counts() == (0, 0, 0)).await;
    hub.stop().await.unwrap();
}
