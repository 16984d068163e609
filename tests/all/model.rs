//! The hub against a plain model of what it must do with edits, resends,
//! edits in parts, interleavings and disconnects, over two rosters and three
//! clients: every edit is applied whole exactly once or refused whole and
//! said so; a resend is answered as the first time; no answer ever comes
//! from another roster or another edit. Random step sequences (proptest)
//! run against one real hub on 127.0.0.1; each case uses rosters and client
//! ids of its own. `ROTA_MODEL_CASES` sets how many cases run. Edits
//! carry staff requests beside cells (issue 22): put, and withdrawn, which
//! is invalid (the edit refused whole) when there is none at that point.

use crate::common;

use common::{Client, Hub, join_snapshot_of, setup_ops};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use rota::domain::{Date, Op};
use rota::protocol::{ClientMsg, ServerMsg};
use std::collections::{BTreeMap, HashMap};

const ROSTERS: usize = 2;
const CLIENTS: usize = 3;
const CODES: [&str; 3] = ["D", "N", "ZZ"]; // ZZ is no code of the roster
const STAFF: u8 = 3;
const DAYS: u8 = 4;

/// staff 1..=3, day, what: a code index into [`CODES`] (0, 1; 2 is no code
/// of the roster), or [`ASK`] (a request: off that day) or [`WITHDRAW`]
/// (the request withdrawn).
type Cell = (u8, u8, u8);
const ASK: u8 = 3;
const WITHDRAW: u8 = 4;

#[derive(Clone, Debug)]
struct EditSpec {
    roster: usize,
    op: u64,
    cells: Vec<Cell>,
    parts: usize,
}

#[derive(Clone, Debug)]
enum Step {
    /// The edit, in its parts, in order.
    Whole { client: usize, edit: EditSpec },
    /// Parts up to `after`, then another whole edit: both are refused; then
    /// (maybe) the rest of the first, which must be dropped.
    Interrupted {
        client: usize,
        edit: EditSpec,
        after: usize,
        by: EditSpec,
        tail: bool,
    },
    /// Parts up to `after`, then the connection drops.
    Dropped {
        client: usize,
        edit: EditSpec,
        after: usize,
    },
    /// On a new connection, the parts from `from` on (never part 0).
    TailOnly {
        client: usize,
        edit: EditSpec,
        from: usize,
    },
    /// The edit's frames with no part numbers (`more` on all but the
    /// last): every frame refused, the last one (the tail) too, nothing
    /// applied (issue 25, hole 1).
    Unnumbered { client: usize, edit: EditSpec },
    /// An edit this client sent before, sent again as it was (cut into
    /// `parts` this time).
    Resend {
        client: usize,
        back: usize,
        parts: usize,
    },
}

fn cell() -> impl Strategy<Value = Cell> {
    (
        1..=STAFF,
        0..DAYS,
        prop_oneof![8 => 0u8..2, 1 => Just(2u8), 1 => Just(ASK), 1 => Just(WITHDRAW)],
    )
}

fn edit(min_parts: usize) -> impl Strategy<Value = EditSpec> {
    (0..ROSTERS, 1u64..=3, min_parts..=3).prop_flat_map(|(roster, op, parts)| {
        prop::collection::vec(cell(), parts..=parts + 2).prop_map(move |cells| EditSpec {
            roster,
            op,
            cells,
            parts,
        })
    })
}

fn step() -> impl Strategy<Value = Step> {
    let client = 0..CLIENTS;
    prop_oneof![
        4 => (client.clone(), edit(1)).prop_map(|(client, edit)| Step::Whole { client, edit }),
        2 => (client.clone(), edit(2), edit(1), any::<bool>(), 1usize..3).prop_map(
            |(client, edit, mut by, tail, after)| {
                by.roster = edit.roster;
                by.parts = 1;
                let after = after.min(edit.parts - 1);
                Step::Interrupted { client, edit, after, by, tail }
            }
        ),
        1 => (client.clone(), edit(2), 1usize..3).prop_map(|(client, edit, after)| {
            let after = after.min(edit.parts - 1);
            Step::Dropped { client, edit, after }
        }),
        1 => (client.clone(), edit(2), 1usize..3).prop_map(|(client, edit, from)| {
            let from = from.min(edit.parts - 1);
            Step::TailOnly { client, edit, from }
        }),
        1 => (client.clone(), edit(2)).prop_map(|(client, edit)| Step::Unnumbered { client, edit }),
        3 => (client, 0usize..4, 1usize..=3)
            .prop_map(|(client, back, parts)| Step::Resend { client, back, parts }),
    ]
}

fn date(day: u8) -> Date {
    let first: Date = "2026-12-01".parse().unwrap_or_else(|_| unreachable!());
    Date(first.0 + chrono::Days::new(u64::from(day)))
}

fn ops_of(cells: &[Cell]) -> Vec<Op> {
    cells
        .iter()
        .map(|&(s, d, c)| match c {
            ASK => Op::PutRequest {
                request: rota::domain::Request::new(
                    &format!("s{s}"),
                    date(d),
                    rota::domain::Wish::Off { code: None },
                ),
                base: None,
            },
            WITHDRAW => Op::RemoveRequest {
                staff: format!("s{s}"),
                date: date(d),
                base: None,
            },
            c => Op::SetCell {
                staff: format!("s{s}"),
                date: date(d),
                code: Some(CODES[c as usize].into()),
                base: 0,
            },
        })
        .collect()
}

/// The frames of an edit cut into `parts` (each part at least one op).
fn frames(edit: &EditSpec) -> Vec<ClientMsg> {
    let ops = ops_of(&edit.cells);
    let n = edit.parts.min(ops.len()).max(1);
    let chunks: Vec<Vec<Op>> = (0..n)
        .map(|i| ops[i * ops.len() / n..(i + 1) * ops.len() / n].to_vec())
        .collect();
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, ops)| ClientMsg::Edit {
            op_id: edit.op,
            ops,
            note: None,
            force: true,
            more: i < last,
            part: (last > 0).then_some(i as u32),
        })
        .collect()
}

/// What the hub must answer, by the model.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Ack(u64),
    Rejected,
    /// The first answer to this (roster, client, op id), word for word.
    Same(Box<ServerMsg>),
    Reused,
}

/// (roster, client, op id): what the hub keys its answers by.
type AnswerKey = (usize, usize, u64);
/// An edit's content and the answer it got (once it has come).
type Answered = (Vec<Cell>, Option<ServerMsg>);

#[derive(Default)]
struct Model {
    seqs: [u64; ROSTERS],
    cells: [BTreeMap<(u8, u8), u8>; ROSTERS],
    /// Who has a request on which day.
    requests: [std::collections::BTreeSet<(u8, u8)>; ROSTERS],
    /// The content and the answer given, per (roster, client, op id).
    answers: HashMap<AnswerKey, Answered>,
}

impl Model {
    /// What a whole edit must get; applies it to the model.
    fn submit(&mut self, client: usize, e: &EditSpec) -> Expect {
        let key = (e.roster, client, e.op);
        if let Some((content, answer)) = self.answers.get(&key) {
            if *content != e.cells {
                return Expect::Reused;
            }
            if let Some(answer) = answer {
                return Expect::Same(Box::new(answer.clone()));
            }
        }
        // Applied in order on copies: a refused edit leaves nothing.
        let mut cells = self.cells[e.roster].clone();
        let mut requests = self.requests[e.roster].clone();
        let (mut changed, mut invalid) = (false, false);
        for &(s, d, c) in &e.cells {
            match c {
                2 => invalid = true,
                ASK => changed |= requests.insert((s, d)),
                WITHDRAW if requests.remove(&(s, d)) => changed = true,
                WITHDRAW => invalid = true,
                c => changed |= cells.insert((s, d), c) != Some(c),
            }
        }
        let expect = if invalid {
            Expect::Rejected
        } else {
            self.cells[e.roster] = cells;
            self.requests[e.roster] = requests;
            if changed {
                self.seqs[e.roster] += 1;
            }
            Expect::Ack(self.seqs[e.roster])
        };
        self.answers.insert(key, (e.cells.clone(), None));
        expect
    }

    /// Keeps the first answer, for resends to be compared with.
    fn answered(&mut self, client: usize, e: &EditSpec, msg: &ServerMsg) {
        if let Some(entry) = self.answers.get_mut(&(e.roster, client, e.op))
            && entry.1.is_none()
        {
            entry.1 = Some(msg.clone());
        }
    }
}

struct Case {
    url: String,
    id: usize,
    clients: Vec<Option<(usize, Client)>>,
    sent: Vec<Vec<EditSpec>>,
    model: Model,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

impl Case {
    fn roster(&self, r: usize) -> String {
        format!("m{}-{r}", self.id)
    }

    /// The client joined to `roster`, connecting (again) if need be.
    async fn client(&mut self, c: usize, roster: usize) -> &mut Client {
        let fresh = !matches!(&self.clients[c], Some((r, _)) if *r == roster);
        if fresh {
            let name = self.roster(roster);
            let id = format!("m{}-c{c}", self.id);
            let seq = self.model.seqs[roster];
            // Clients of each protocol the hub speaks: what holds for one
            // holds for all.
            let version = ["1.2", "1.1", "1.0"][c % 3];
            let (client, _) = Client::join_speaking(version, &self.url, "u", &id, &name, seq).await;
            self.clients[c] = Some((roster, client));
        }
        match &mut self.clients[c] {
            Some((_, client)) => client,
            None => unreachable!("just connected"),
        }
    }

    async fn disconnect(&mut self, c: usize) {
        if let Some((_, mut gone)) = self.clients[c].take() {
            let _ = gone.ws.close(None).await;
        }
    }

    async fn send(&mut self, c: usize, roster: usize, msgs: &[ClientMsg]) {
        let client = self.client(c, roster).await;
        for m in msgs {
            client.send(m).await;
        }
    }

    async fn answer(&mut self, c: usize, roster: usize) -> ServerMsg {
        self.client(c, roster).await.answer().await
    }

    /// Sends a whole edit and checks its answer against the model.
    async fn whole(&mut self, c: usize, e: &EditSpec) -> Result<(), TestCaseError> {
        let expect = self.model.submit(c, e);
        self.send(c, e.roster, &frames(e)).await;
        let got = self.answer(c, e.roster).await;
        check(&expect, &got, e.op)?;
        self.model.answered(c, e, &got);
        self.sent[c].push(e.clone());
        Ok(())
    }

    async fn refused(&mut self, c: usize, roster: usize, ops: &[u64]) -> Result<(), TestCaseError> {
        for &op in ops {
            match self.answer(c, roster).await {
                ServerMsg::Error {
                    op_id: Some(id), ..
                } if id == op => {}
                other => return Err(fail(format!("expected edit {op} refused, got {other:?}"))),
            }
        }
        Ok(())
    }

    async fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Whole { client, edit } => self.whole(*client, edit).await,
            Step::Interrupted {
                client,
                edit,
                after,
                by,
                tail,
            } => {
                let parts = frames(edit);
                self.send(*client, edit.roster, &parts[..*after]).await;
                self.send(*client, edit.roster, &frames(by)).await;
                let mut ops = vec![edit.op];
                if by.op != edit.op {
                    ops.push(by.op);
                }
                self.refused(*client, edit.roster, &ops).await?;
                if *tail {
                    self.send(*client, edit.roster, &parts[*after..]).await;
                }
                Ok(())
            }
            Step::Dropped {
                client,
                edit,
                after,
            } => {
                let parts = frames(edit);
                self.send(*client, edit.roster, &parts[..*after]).await;
                self.disconnect(*client).await;
                Ok(())
            }
            Step::Unnumbered { client, edit } => {
                let frames: Vec<ClientMsg> = frames(edit)
                    .into_iter()
                    .map(|f| match f {
                        ClientMsg::Edit {
                            op_id,
                            ops,
                            note,
                            force,
                            more,
                            ..
                        } => ClientMsg::Edit {
                            op_id,
                            ops,
                            note,
                            force,
                            more,
                            part: None,
                        },
                        other => other,
                    })
                    .collect();
                let n = frames.len();
                self.send(*client, edit.roster, &frames).await;
                self.refused(*client, edit.roster, &vec![edit.op; n]).await
            }
            Step::TailOnly { client, edit, from } => {
                self.disconnect(*client).await;
                let parts = frames(edit);
                self.send(*client, edit.roster, &parts[*from..]).await;
                self.refused(*client, edit.roster, &[edit.op]).await
            }
            Step::Resend {
                client,
                back,
                parts,
            } => {
                let sent = &self.sent[*client];
                let Some(e) = sent.len().checked_sub(back + 1).map(|i| sent[i].clone()) else {
                    return Ok(());
                };
                let e = EditSpec { parts: *parts, ..e };
                self.whole(*client, &e).await
            }
        }
    }

    /// Every roster on the hub holds exactly the model's cells and seq, and
    /// each connected client's next answer is to a probe (nothing else was
    /// answered that should not have been).
    async fn settle(&mut self) -> Result<(), TestCaseError> {
        for c in 0..CLIENTS {
            if let Some((roster, _)) = &self.clients[c] {
                let probe = EditSpec {
                    roster: *roster,
                    op: 1000,
                    cells: vec![(1, DAYS, 0)],
                    parts: 1,
                };
                self.whole(c, &probe).await?;
            }
        }
        for r in 0..ROSTERS {
            let (_c, seq, snap) =
                join_snapshot_of(&self.url, "checker", "checker", &self.roster(r)).await;
            let cells: BTreeMap<(u8, u8), u8> = snap
                .cells
                .iter()
                .filter_map(|(s, d, code, _)| {
                    let staff: u8 = s.strip_prefix('s')?.parse().ok()?;
                    let day = (0..=DAYS).find(|&x| date(x) == *d)?;
                    let code = CODES.iter().position(|c| Some(*c) == code.as_deref())?;
                    Some(((staff, day), code as u8))
                })
                .collect();
            let requests: std::collections::BTreeSet<(u8, u8)> = snap
                .requests
                .iter()
                .filter_map(|q| {
                    let staff: u8 = q.staff.strip_prefix('s')?.parse().ok()?;
                    let day = (0..=DAYS).find(|&x| date(x) == q.date)?;
                    Some((staff, day))
                })
                .collect();
            let want_seq = self.model.seqs[r];
            let want = (want_seq, &self.model.cells[r], &self.model.requests[r]);
            if (seq, &cells, &requests) != want {
                return Err(fail(format!(
                    "roster {r}: hub at seq {seq} with {cells:?} and requests {requests:?}, \
                     model at {want_seq} with {:?} and {:?}",
                    self.model.cells[r], self.model.requests[r]
                )));
            }
        }
        Ok(())
    }
}

fn check(expect: &Expect, got: &ServerMsg, op: u64) -> Result<(), TestCaseError> {
    let ok = match (expect, got) {
        (Expect::Ack(seq), ServerMsg::Ack { op_id, seq: s, .. }) => *op_id == op && s == seq,
        (Expect::Rejected, ServerMsg::Rejected { op_id, code, .. }) => {
            *op_id == op && code == "invalid"
        }
        (Expect::Same(first), got) => **first == *got,
        (Expect::Reused, ServerMsg::Error { code, op_id, .. }) => {
            code == "op_id_reused" && *op_id == Some(op)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(fail(format!("edit {op}: expected {expect:?}, got {got:?}")))
    }
}

#[test]
fn the_hub_answers_every_edit_as_the_model_says() {
    let cases: u32 = std::env::var("ROTA_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // On tmpfs where there is one: the model is about answers, not fsyncs.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let hub = rt.block_on(Hub::start(dir.path()));
    let url = hub.url();
    let next_case = std::sync::atomic::AtomicUsize::new(0);
    let first_failure = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&prop::collection::vec(step(), 1..12), |steps| {
        let case_id = next_case.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        rt.block_on(async {
            let mut case = Case {
                url: url.clone(),
                id: case_id,
                clients: (0..CLIENTS).map(|_| None).collect(),
                sent: vec![Vec::new(); CLIENTS],
                model: Model::default(),
            };
            for r in 0..ROSTERS {
                let name = case.roster(r);
                let (mut admin, _) =
                    Client::join(&url, "admin", &format!("m{case_id}-admin"), &name, 0).await;
                let seq = common::ack_seq(&admin.edit(1, setup_ops(STAFF as usize)).await);
                case.model.seqs[r] = seq;
            }
            for step in &steps {
                case.run(step).await?;
            }
            case.settle().await
        })
        .inspect_err(|_| {
            let _ = first_failure.compare_exchange(
                0,
                case_id,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            );
        })
    });
    rt.block_on(hub.stop()).unwrap();
    if let Err(e) = result {
        let first = first_failure.load(std::sync::atomic::Ordering::Relaxed);
        panic!("case {first} of {cases} failed first (then shrunk): {e}");
    }
}
