//! The published scenario (`--scenario published`, issue 22): staff are
//! sent the published view, so a publication of 200 cells must reach every
//! staff editor as one `change`, and a draft edit must not reach them at
//! all. It owns the run: a hub of its own whose accounts are written into
//! its data dir before it starts (an admin; N-1 staff each bound to a row
//! of the roster `published`; N-1 editors on the roster `draft`), and the
//! two rosters set up by the admin. Then, round after round, on
//! `published` a draft edit of 200 cells (acked, sent to no one) and a
//! publish of the date holding them (timed to each staff editor), and on
//! `draft` the same 200-cell edit timed to each editor: the same fan-out,
//! one view against the other, alternated (the order swapped each round)
//! because this machine's speed drifts from minute to minute. Each round
//! waits until every observer has its change.

use crate::editor::{CODES, Ws};
use crate::hub::HubUnderTest;
use crate::pub_report::PubReport;
use crate::report::Percentiles;
use crate::viewer::{self, Arrival, Note, Seen, Side};
use crate::wire::{self, Answer};
use futures_util::SinkExt;
use rota::accounts::{AccountsFile, Grant, Role};
use rota::domain::{Date, Op, Seq, ShiftCode, View};
use rota::protocol::{self, ClientMsg, MAX_OPS_PER_BATCH};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Cells of each draft edit and each publication (the figure).
pub const CELLS: usize = 200;
/// The roster that publishes (staff on it) and the one that never does
/// (editors on it).
const PUBLISHED: &str = "published";
const DRAFT: &str = "draft";
/// How long a round waits for its change to reach every observer.
const DELIVERY_WAIT: Duration = Duration::from_secs(30);
/// How many connections join at once.
const CONNECT_CONCURRENCY: usize = 64;

/// The date every round's cells are on (staff s1..s200 of one day: each
/// staff editor's own cell is in every publication).
fn day() -> Date {
    Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default())
}

/// The tokens of the accounts made before the hub starts.
#[derive(Default)]
struct Tokens {
    admin: String,
    staff: Vec<String>,
    editors: Vec<String>,
}

/// Runs the scenario: `clients` connections per roster (the admin and
/// `clients - 1` staff or editors), `runs` rounds.
pub async fn run(clients: usize, runs: usize) -> PubReport {
    let observers = clients.max(2) - 1;
    let mut report = PubReport {
        scenario: "published".into(),
        clients: observers + 1,
        staff: observers,
        editors: observers,
        cells: CELLS,
        ..PubReport::default()
    };
    let mut tokens = Tokens::default();
    // The edit rate is lifted as for the other scenarios: the hub, not the
    // per-connection limit, is measured.
    let lifted = ["--max-edits-per-sec".to_string(), "4000000000".to_string()];
    let hub = HubUnderTest::start_prepared(2 * (observers + 1) + 100, &lifted, |dir| {
        tokens = accounts(dir, observers)?;
        Ok(())
    });
    let hub = match hub {
        Ok(h) => h,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    report.hub = hub.url.clone();
    if let Err(e) = drive(&hub, &tokens, runs.max(1), &mut report).await {
        report.failures.push(e);
    }
    report
}

/// The accounts, written straight into the accounts file (the hub checks
/// a staff row against its roster only when accounts change through
/// `rota --serve --add-user` on a running hub; the rows are made by the
/// admin's setup before anyone of them joins).
fn accounts(dir: &std::path::Path, observers: usize) -> Result<Tokens, String> {
    let err = |e: rota::accounts::AccountsError| format!("accounts: {e}");
    let mut file = AccountsFile::open_in(dir).map_err(err)?;
    let role = |roster: &str, role| Grant::Role {
        roster: roster.into(),
        role,
    };
    let admin = file
        .add_user("admin", role(PUBLISHED, Role::Admin))
        .map_err(err)?;
    file.set_role("admin", DRAFT, Some(Role::Admin))
        .map_err(err)?;
    let mut tokens = Tokens {
        admin,
        ..Tokens::default()
    };
    for k in 1..=observers {
        let staff = Grant::Staff {
            roster: PUBLISHED.into(),
            staff: format!("s{k}"),
        };
        tokens
            .staff
            .push(file.add_user(&format!("staff{k}"), staff).map_err(err)?);
        let editor = role(DRAFT, Role::Editor);
        tokens
            .editors
            .push(file.add_user(&format!("editor{k}"), editor).map_err(err)?);
    }
    Ok(tokens)
}

/// The admin on one roster: its connection, its next op id, and the
/// version of the round's cells (it is their only writer).
struct Admin {
    ws: Ws,
    roster: &'static str,
    next_op: u64,
    version: Seq,
}

impl Admin {
    /// Sends one edit and waits for its ack: the seq, and sent -> ack.
    async fn edit(&mut self, ops: Vec<Op>) -> Result<(Seq, u32), String> {
        let op_id = self.next_op;
        self.next_op += 1;
        // Encoded before the clock starts: the hub is timed, not this.
        let text = protocol::encode_client(&ClientMsg::Edit {
            op_id,
            ops,
            note: None,
            force: false,
            more: false,
            part: None,
        });
        let sent = Instant::now();
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("admin on `{}`: send: {e}", self.roster))?;
        match wire::answer_of(&mut self.ws, op_id, Duration::from_secs(120)).await? {
            Answer::Acked(Some(seq)) => Ok((seq, micros(sent.elapsed()))),
            Answer::Acked(None) => Err(format!("admin on `{}`: an ack without a seq", self.roster)),
            Answer::Refused(code, message) => Err(format!(
                "admin on `{}`: edit refused: {code}: {message}",
                self.roster
            )),
        }
    }

    /// The round's draft edit: every one of the CELLS cells set to `code`.
    async fn set_cells(&mut self, code: &str) -> Result<(Seq, u32), String> {
        let ops = (0..CELLS).map(|i| cell(i, code, self.version)).collect();
        let (seq, us) = self.edit(ops).await?;
        self.version = seq;
        Ok((seq, us))
    }
}

/// Cell `i` of the round's cells (staff `s{i+1}` on the day) set to `code`.
fn cell(i: usize, code: &str, base: Seq) -> Op {
    Op::SetCell {
        staff: format!("s{}", i + 1),
        date: day(),
        code: Some(code.into()),
        base,
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// The admin joins `roster` and sets it up: the three codes, staff
/// s1..sROWS, the round's cells filled; on `published` also its first
/// publication (until a roster publishes, its staff are sent the draft).
async fn setup(
    hub: &HubUnderTest,
    token: &str,
    tag: &str,
    roster: &'static str,
    rows: usize,
) -> Result<Admin, String> {
    let client = format!("{tag}-admin-{roster}");
    let (ws, _) = viewer::join(&hub.url, token, &client, roster).await?;
    let mut admin = Admin {
        ws,
        roster,
        next_op: 1,
        version: 0,
    };
    let mut ops: Vec<Op> = CODES
        .iter()
        .map(|c| Op::PutCode {
            code: ShiftCode::new(c, 8.0, *c != "OFF"),
            base: None,
        })
        .collect();
    ops.extend((1..=rows).map(|i| Op::AddStaff {
        id: format!("s{i}"),
        name: format!("Person {i}"),
        group: String::new(),
        order: None,
    }));
    for chunk in ops.chunks(MAX_OPS_PER_BATCH) {
        admin.edit(chunk.to_vec()).await?;
    }
    admin.set_cells(CODES[0]).await?;
    if roster == PUBLISHED {
        admin.edit(vec![publish()]).await?;
    }
    Ok(admin)
}

fn publish() -> Op {
    Op::Publish {
        from: day(),
        to: day(),
        note: String::new(),
    }
}

/// Connects one side's accounts to `roster`, CONNECT_CONCURRENCY at a
/// time; each must be told it is sent `want`.
async fn connect(
    hub: &HubUnderTest,
    tag: &str,
    side: Side,
    tokens: &[String],
    roster: &str,
    want: View,
) -> Result<Vec<Ws>, String> {
    let mut out = Vec::with_capacity(tokens.len());
    for (b, batch) in tokens.chunks(CONNECT_CONCURRENCY).enumerate() {
        let joins = batch.iter().enumerate().map(|(k, token)| {
            let (url, token, roster) = (hub.url.clone(), token.clone(), roster.to_string());
            let client = format!("{tag}-{side:?}-{}", b * CONNECT_CONCURRENCY + k + 1);
            tokio::spawn(async move { viewer::join(&url, &token, &client, &roster).await })
        });
        for j in futures_util::future::join_all(joins).await {
            let (ws, view) = j.map_err(|e| format!("join task: {e}"))??;
            if view != want {
                return Err(format!(
                    "{side:?} on `{roster}` are sent the {} view, not the {}",
                    view.as_str(),
                    want.as_str()
                ));
            }
            out.push(ws);
        }
    }
    Ok(out)
}

/// What the rounds measured, in microseconds.
#[derive(Default)]
struct Times {
    hidden_ack: Vec<u32>,
    publish_ack: Vec<u32>,
    published: Vec<u32>,
    published_last: Vec<u32>,
    draft_ack: Vec<u32>,
    draft: Vec<u32>,
    draft_last: Vec<u32>,
}

async fn drive(
    hub: &HubUnderTest,
    tokens: &Tokens,
    runs: usize,
    report: &mut PubReport,
) -> Result<(), String> {
    let observers = tokens.staff.len();
    let tag = format!(
        "pub-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let rows = CELLS.max(observers);
    let mut staff_admin = setup(hub, &tokens.admin, &tag, PUBLISHED, rows).await?;
    let mut draft_admin = setup(hub, &tokens.admin, &tag, DRAFT, rows).await?;
    report.hub_rss_start_mb = hub.rss_mb().await;
    let staff = connect(
        hub,
        &tag,
        Side::Staff,
        &tokens.staff,
        PUBLISHED,
        View::Published,
    )
    .await?;
    let editors = connect(hub, &tag, Side::Editor, &tokens.editors, DRAFT, View::Draft).await?;
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readers = Vec::with_capacity(2 * observers);
    for (side, socks) in [(Side::Staff, staff), (Side::Editor, editors)] {
        for (who, ws) in socks.into_iter().enumerate() {
            let (tx, stop) = (notes_tx.clone(), stop_rx.clone());
            readers.push((side, tokio::spawn(viewer::read(side, who, ws, tx, stop))));
        }
    }
    drop(notes_tx);
    report.hub_rss_connected_mb = hub.rss_mb().await;
    let mut times = Times::default();
    let started = Instant::now();
    let mut result = Ok(());
    for round in 0..runs {
        // Every round sets the cells to a code other than the last.
        let code = CODES[(round + 1) % CODES.len()];
        let sides = if round % 2 == 0 {
            [Side::Staff, Side::Editor]
        } else {
            [Side::Editor, Side::Staff]
        };
        for side in sides {
            let done = match side {
                Side::Staff => {
                    published_round(&mut staff_admin, code, &mut notes, &mut times, report).await
                }
                Side::Editor => {
                    draft_round(&mut draft_admin, code, &mut notes, &mut times, report).await
                }
            };
            if let Err(e) = done {
                result = Err(format!("round {}: {e}", round + 1));
                break;
            }
        }
        if result.is_err() {
            break;
        }
        report.rounds = round + 1;
    }
    report.duration_s = started.elapsed().as_secs_f64();
    // Weighed while everyone is still connected.
    report.hub_rss_mb = hub.rss_mb().await;
    let _ = stop_tx.send(true);
    for (side, r) in readers {
        let seen: Seen = r.await.map_err(|e| format!("reader task: {e}"))?;
        report.failures.extend(seen.failures.iter().cloned());
        match side {
            Side::Staff => {
                report.staff_frames += seen.frames;
                report.staff_bytes += seen.bytes;
                report.staff_draft_frames += seen.cell_frames;
                report.staff_draft_bytes += seen.cell_bytes;
                report.staff_draft_cells += seen.cells;
            }
            Side::Editor => {
                report.editor_frames += seen.frames;
                report.editor_bytes += seen.bytes;
            }
        }
    }
    report.hidden_edit_ack_ms = Percentiles::of_micros(times.hidden_ack);
    report.publish_ack_ms = Percentiles::of_micros(times.publish_ack);
    report.published_ms = Percentiles::of_micros(times.published);
    report.published_last_ms = Percentiles::of_micros(times.published_last);
    report.draft_ack_ms = Percentiles::of_micros(times.draft_ack);
    report.draft_ms = Percentiles::of_micros(times.draft);
    report.draft_last_ms = Percentiles::of_micros(times.draft_last);
    let _ = staff_admin.ws.close(None).await;
    let _ = draft_admin.ws.close(None).await;
    result
}

/// On `published`: the draft edit (acked; staff are sent nothing of it),
/// then the publish, timed to every staff editor.
async fn published_round(
    admin: &mut Admin,
    code: &str,
    notes: &mut mpsc::UnboundedReceiver<Note>,
    times: &mut Times,
    report: &mut PubReport,
) -> Result<(), String> {
    let (_, us) = admin.set_cells(code).await?;
    times.hidden_ack.push(us);
    let sent = Instant::now();
    let (seq, us) = admin.edit(vec![publish()]).await?;
    times.publish_ack.push(us);
    let each = deliveries(notes, Side::Staff, seq, sent, report).await?;
    times.published_last.extend(each.iter().max());
    times.published.extend(each);
    Ok(())
}

/// On `draft`: the same edit, timed to every editor.
async fn draft_round(
    admin: &mut Admin,
    code: &str,
    notes: &mut mpsc::UnboundedReceiver<Note>,
    times: &mut Times,
    report: &mut PubReport,
) -> Result<(), String> {
    let sent = Instant::now();
    let (seq, us) = admin.set_cells(code).await?;
    times.draft_ack.push(us);
    let each = deliveries(notes, Side::Editor, seq, sent, report).await?;
    times.draft_last.extend(each.iter().max());
    times.draft.extend(each);
    Ok(())
}

/// Waits until every connection of `side` has read change `seq` (sent at
/// `sent`); returns each one's delay. Anything else read meanwhile is
/// booked: staff are sent no change but the publications (one of the
/// draft edit's would have come before the publication, in seq order, so
/// none can come after this returns).
async fn deliveries(
    notes: &mut mpsc::UnboundedReceiver<Note>,
    side: Side,
    seq: Seq,
    sent: Instant,
    report: &mut PubReport,
) -> Result<Vec<u32>, String> {
    let want = match side {
        Side::Staff => report.staff,
        Side::Editor => report.editors,
    };
    let deadline = tokio::time::Instant::now() + DELIVERY_WAIT;
    let mut got = HashSet::with_capacity(want);
    let mut each = Vec::with_capacity(want);
    while got.len() < want {
        let note = match tokio::time::timeout_at(deadline, notes.recv()).await {
            Ok(Some(n)) => n,
            Ok(None) => return Err("every reader has ended".into()),
            Err(_) => {
                report.lost += want - got.len();
                return Err(format!(
                    "{side:?}: change {seq} reached {} of {want} in {DELIVERY_WAIT:?}",
                    got.len()
                ));
            }
        };
        let a: Arrival = match note {
            Note::Arrival(a) => a,
            Note::Failed(e) => return Err(e),
        };
        if a.side != side || a.seq != seq {
            if a.side == Side::Staff {
                report.staff_other_changes += 1;
            } else {
                report.failures.push(format!(
                    "editor {}: an unexpected change {} (waiting for {seq})",
                    a.who, a.seq
                ));
            }
            continue;
        }
        if !got.insert(a.who) {
            report
                .failures
                .push(format!("{side:?} {}: change {seq} read twice", a.who));
            continue;
        }
        let (cells, published) = match side {
            Side::Staff => (0, Some(CELLS)),
            Side::Editor => (CELLS, None),
        };
        if (a.cells, a.published) != (cells, published) {
            report.failures.push(format!(
                "{side:?} {}: change {seq} held {} cells and publication {:?}, not {cells} and {published:?}",
                a.who, a.cells, a.published
            ));
        }
        each.push(micros(a.at.saturating_duration_since(sent)));
    }
    Ok(each)
}
