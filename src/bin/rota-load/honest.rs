//! The honest side of the fairness scenario: editors, each on its own
//! connection, sending one single-cell edit at a time (the next once the
//! last is answered), and, for history-flood, a reader asking for a history
//! page and the roster list every 100 ms. They run on a thread and a
//! runtime of their own, so the attackers' tasks in this process never
//! queue ahead of them: what they wait for is the hub.

use crate::editor::{self, CODES, Ws};
use crate::wire::{self, Encoded, PART_BYTES, Style};
use rota::domain::Op;
use rota::protocol::{ClientMsg, HistoryQuery, codes};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// What the honest side does.
#[derive(Clone)]
pub struct Plan {
    pub url: String,
    pub addr: String,
    pub roster: String,
    pub editors: usize,
    /// Send each edit in two parts (`more`, `part`), not whole.
    pub parts: bool,
    /// Also run the reader.
    pub reader: bool,
    pub duration: Duration,
    /// Client ids begin with this.
    pub tag: String,
}

/// What the honest side saw, from the start signal on.
#[derive(Default)]
pub struct Outcome {
    pub sent: usize,
    /// Edit sent -> its ack, µs.
    pub ack_us: Vec<u32>,
    /// Edits refused, by code; the first few messages.
    pub refused: BTreeMap<String, usize>,
    pub refusals: Vec<String>,
    /// The reader's history page and roster list, asked -> answered, µs.
    pub history_us: Vec<u32>,
    pub rosters_us: Vec<u32>,
    pub failures: Vec<String>,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.sent += o.sent;
        self.ack_us.extend(o.ack_us);
        for (code, n) in o.refused {
            *self.refused.entry(code).or_default() += n;
        }
        for m in o.refusals {
            let code = m.split(':').next().unwrap_or_default();
            if !self
                .refusals
                .iter()
                .any(|r| r.split(':').next() == Some(code))
            {
                self.refusals.push(m);
            }
        }
        self.history_us.extend(o.history_us);
        self.rosters_us.extend(o.rosters_us);
        self.failures.extend(o.failures);
    }
}

/// Refusals that say "later" (the hub's limits, not the edit's fault), and
/// how long an honest editor waits before its next edit after one.
const LATER: [&str; 3] = [codes::BUSY, codes::RATE_LIMITED, codes::STORAGE];
const LATER_PAUSE: Duration = Duration::from_millis(100);

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// Starts the honest side on a thread of its own: it joins, says so on
/// `joined`, then works for `plan.duration` from `go`.
pub fn spawn(
    plan: Plan,
    joined: oneshot::Sender<Result<(), String>>,
    go: watch::Receiver<bool>,
) -> std::thread::JoinHandle<Outcome> {
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let e = format!("honest runtime: {e}");
                let _ = joined.send(Err(e.clone()));
                return Outcome {
                    failures: vec![e],
                    ..Outcome::default()
                };
            }
        };
        runtime.block_on(run(plan, joined, go))
    })
}

async fn run(
    plan: Plan,
    joined: oneshot::Sender<Result<(), String>>,
    go: watch::Receiver<bool>,
) -> Outcome {
    let mut editors = Vec::new();
    let mut reader = None;
    let opened = async {
        for k in 0..plan.editors {
            let client = format!("{}-h{}", plan.tag, k + 1);
            let (ws, _) =
                wire::join(&plan.url, &plan.addr, &client, &plan.roster, Style::Client).await?;
            editors.push(ws);
        }
        if plan.reader {
            let client = format!("{}-reader", plan.tag);
            let (ws, _) =
                wire::join(&plan.url, &plan.addr, &client, &plan.roster, Style::Client).await?;
            reader = Some(ws);
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = &opened {
        let _ = joined.send(Err(e.clone()));
        return Outcome {
            failures: vec![format!("honest editors: {e}")],
            ..Outcome::default()
        };
    }
    // Nobody waiting: `go` ends too, and the tasks say so.
    let _ = joined.send(Ok(()));
    let mut tasks = Vec::new();
    for (k, ws) in editors.into_iter().enumerate() {
        tasks.push(tokio::spawn(edit(ws, k, plan.clone(), go.clone())));
    }
    if let Some(ws) = reader {
        tasks.push(tokio::spawn(read(ws, plan.clone(), go.clone())));
    }
    let mut out = Outcome::default();
    for t in tasks {
        match t.await {
            Ok(o) => out.merge(o),
            Err(e) => out.failures.push(format!("honest task: {e}")),
        }
    }
    out
}

/// Reads (and drops) what comes until `go`.
async fn wait_go(ws: &mut Ws, go: &mut watch::Receiver<bool>) -> Result<(), String> {
    while !*go.borrow() {
        tokio::select! {
            r = go.changed() => if r.is_err() {
                return Err("the run ended before it began".into());
            },
            t = editor::next_text(ws, Duration::from_secs(3600)) => { t?; }
        }
    }
    Ok(())
}

/// Edit `i` of honest editor `k`: one cell of its own row (two in parts),
/// each edit changing what the cell holds.
fn ops(k: usize, i: usize, parts: bool) -> Vec<Op> {
    let code = CODES[(i / 100) % CODES.len()];
    let cell = |d: usize| Op::SetCell {
        staff: format!("h{}", k + 1),
        date: wire::day(d),
        code: Some(code.into()),
        base: 0,
    };
    if parts {
        vec![cell(i % 100), cell(100 + i % 100)]
    } else {
        vec![cell(i % 100)]
    }
}

async fn edit(mut ws: Ws, k: usize, plan: Plan, mut go: watch::Receiver<bool>) -> Outcome {
    let mut out = Outcome::default();
    if let Err(e) = wait_go(&mut ws, &mut go).await {
        out.failures.push(format!("honest editor {}: {e}", k + 1));
        return out;
    }
    let until = Instant::now() + plan.duration;
    let mut i = 0;
    while Instant::now() < until {
        let op_id = i as u64 + 1;
        // In parts: one operation a part, so two parts.
        let enc = Encoded::new(
            &ops(k, i, plan.parts),
            if plan.parts { 1 } else { PART_BYTES },
        );
        i += 1;
        let sent = Instant::now();
        out.sent += 1;
        let answer = match wire::send_frames(&mut ws, enc.frames(op_id, false)).await {
            Ok(_) => wire::answer(&mut ws, op_id, Duration::from_secs(120)).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(None) => out.ack_us.push(micros(sent.elapsed())),
            Ok(Some((code, message))) => {
                *out.refused.entry(code.clone()).or_default() += 1;
                if !out
                    .refusals
                    .iter()
                    .any(|r| r.starts_with(&format!("{code}:")))
                {
                    out.refusals.push(format!("{code}: {message}"));
                }
                if LATER.contains(&code.as_str()) {
                    // "Send it again in a moment": pacing, as a client backs off.
                    tokio::time::sleep(LATER_PAUSE).await;
                }
            }
            Err(e) => {
                out.failures
                    .push(format!("honest editor {}: edit {op_id}: {e}", k + 1));
                return out;
            }
        }
    }
    let _ = futures_util::SinkExt::close(&mut ws).await;
    out
}

/// Every 100 ms (or as soon as the last answers came, when later): one
/// history page and the roster list, each timed to its answer.
async fn read(mut ws: Ws, plan: Plan, mut go: watch::Receiver<bool>) -> Outcome {
    let mut out = Outcome::default();
    if let Err(e) = wait_go(&mut ws, &mut go).await {
        out.failures.push(format!("honest reader: {e}"));
        return out;
    }
    let until = Instant::now() + plan.duration;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut req = 0u64;
    while Instant::now() < until {
        // Pacing: a request pair every 100 ms, reading meanwhile.
        loop {
            tokio::select! {
                _ = tick.tick() => break,
                t = editor::next_text(&mut ws, Duration::from_secs(3600)) => {
                    if let Err(e) = t {
                        out.failures.push(format!("honest reader: {e}"));
                        return out;
                    }
                }
            }
        }
        let (history, rosters) = (req + 1, req + 2);
        req += 2;
        let asked = Instant::now();
        let sent = async {
            let query = HistoryQuery {
                limit: Some(50),
                ..HistoryQuery::default()
            };
            editor::send(
                &mut ws,
                &ClientMsg::History {
                    req: Some(history),
                    query,
                },
            )
            .await?;
            editor::send(&mut ws, &ClientMsg::ListRosters { req: Some(rosters) }).await
        }
        .await;
        if let Err(e) = sent {
            out.failures.push(format!("honest reader: {e}"));
            return out;
        }
        let mut waiting = 2;
        while waiting > 0 {
            let heads = match wire::next_heads(&mut ws, Duration::from_secs(120)).await {
                Ok(h) => h,
                Err(e) => {
                    out.failures.push(format!("honest reader: {e}"));
                    return out;
                }
            };
            for h in heads {
                let into = match h.req {
                    Some(r) if r == history => &mut out.history_us,
                    Some(r) if r == rosters => &mut out.rosters_us,
                    _ => continue,
                };
                waiting -= 1;
                if let Some((code, message)) = h.refusal() {
                    out.failures
                        .push(format!("honest reader: refused: {code}: {message}"));
                    continue;
                }
                into.push(micros(asked.elapsed()));
            }
        }
    }
    let _ = futures_util::SinkExt::close(&mut ws).await;
    out
}
