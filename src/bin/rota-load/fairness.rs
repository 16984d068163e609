//! The fairness scenario (`--scenario fairness --attack KIND`): what one
//! attacker does to honest editors. It owns the run: a hub of its own with
//! the hub's default limits (only `--max-connections`, and the per-address
//! limit where an attack needs more connections than it allows, raised),
//! the rosters `honest` and `attack`, the honest side (honest.rs) beside
//! one attack (attack.rs), the hub's memory and connections sampled
//! meanwhile, and the figures for the report (fair_report.rs): honest ack
//! latency, honest edits refused, the attack's own figures. slow-readers
//! and its baseline also run honest readers (delivery.rs) and time the
//! broadcast of the big writer's edits to them.

use crate::attack::{self, Attack, Tally, Target};
use crate::delivery::{self, Acks, Readers};
use crate::fair_report::{FairReport, extra, take_outcome};
use crate::honest;
use crate::hub::{self, HubUnderTest};
use crate::wire;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Honest editors, each on its own connection.
const HONEST_EDITORS: usize = 3;
/// The least time between the attack's start and the honest side's.
const WARM_UP: Duration = Duration::from_secs(1);

/// Runs one attack for `duration` against a hub started here.
pub async fn run(attack: Attack, duration: Duration) -> FairReport {
    let mut report = FairReport {
        scenario: "fairness".into(),
        attack: attack.name().into(),
        honest_editors: HONEST_EDITORS,
        honest_parts: attack == Attack::PartsBudget,
        ..FairReport::default()
    };
    let n = attack.connections();
    let mut flags = Vec::new();
    // Loopback is spared the per-address limit (500) by hubs that know the
    // flag; raised anyway where the attack needs more.
    if n + 10 > 500 && hub::hub_takes_flag("--max-connections-per-address") {
        flags = vec!["--max-connections-per-address".into(), "0".into()];
    }
    let hub = match HubUnderTest::start_with(n + 100, &flags) {
        Ok(h) => h,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    report.hub = hub.url.clone();
    if let Err(e) = drive(attack, duration, &hub, &mut report).await {
        report.failures.push(e);
    }
    report
}

/// What was seen of the hub: its peak memory (sampled all along), its
/// connections and bytes held in parts (just before the honest run ended).
#[derive(Default)]
struct Samples {
    peak_mb: Option<f64>,
    connections: Option<f64>,
    /// Bytes of edits in parts the hub holds (`rota_assembling_bytes`).
    assembling: Option<f64>,
}

/// Samples the hub's memory every 100 ms until `stop`.
async fn sample(hub: &HubUnderTest, samples: &Mutex<Samples>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Some(m) = hub.rss_mb().await {
            let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
            s.peak_mb = Some(s.peak_mb.map_or(m, |p: f64| p.max(m)));
        }
    }
}

/// The hub's connections and bytes held in parts, just before the honest
/// run ends (while every connection of the run is still open).
async fn near_the_end(hub: &HubUnderTest, samples: &Mutex<Samples>, duration: Duration) {
    let before_end = duration.saturating_sub((duration / 20).min(Duration::from_millis(500)));
    tokio::time::sleep(before_end).await;
    let figures = hub
        .metrics(&["rota_connections", "rota_assembling_bytes"])
        .await;
    if let [connections, assembling] = figures[..] {
        let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
        (s.connections, s.assembling) = (connections, assembling);
    }
}

async fn drive(
    attack: Attack,
    duration: Duration,
    hub: &HubUnderTest,
    report: &mut FairReport,
) -> Result<(), String> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let target = Target {
        url: hub.url.clone(),
        addr: hub.addr.clone(),
        honest: "honest".into(),
        attack: "attack".into(),
        tag: format!("fair-{millis}"),
    };
    let grid: Vec<String> = (1..=wire::GRID_STAFF).map(|i| format!("a{i}")).collect();
    let mut honest_staff: Vec<String> = (1..=HONEST_EDITORS).map(|i| format!("h{i}")).collect();
    honest_staff.extend(grid.iter().cloned());
    let setup = format!("{}-setup", target.tag);
    wire::setup_roster(
        &target.url,
        &target.addr,
        &setup,
        &target.honest,
        &honest_staff,
    )
    .await?;
    wire::setup_roster(&target.url, &target.addr, &setup, &target.attack, &grid).await?;

    let plan = honest::Plan {
        url: target.url.clone(),
        addr: target.addr.clone(),
        roster: target.honest.clone(),
        editors: HONEST_EDITORS,
        parts: attack == Attack::PartsBudget,
        reader: attack == Attack::HistoryFlood,
        duration,
        tag: target.tag.clone(),
    };
    let readers_n = if attack.measures_delivery() {
        delivery::READERS
    } else {
        0
    };
    let honest_conns = (HONEST_EDITORS + usize::from(plan.reader) + readers_n) as u64;
    let reading = delivery::Plan {
        url: target.url.clone(),
        addr: target.addr.clone(),
        roster: target.honest.clone(),
        tag: target.tag.clone(),
        duration,
    };
    let acks = Arc::new(Acks::default());
    let (joined_tx, joined_rx) = oneshot::channel();
    let (honest_go, honest_go_rx) = watch::channel(false);
    let mut readers = Readers::start(readers_n, &reading, &acks, &honest_go_rx);
    let honest = honest::spawn(plan, joined_tx, honest_go_rx);
    let joined = joined_rx
        .await
        .unwrap_or_else(|_| Err("the honest side ended before joining".into()));
    let joined = match joined {
        Ok(()) => readers.joined().await,
        Err(e) => Err(e),
    };
    if let Err(e) = joined {
        drop(honest_go);
        let _ = tokio::task::spawn_blocking(move || honest.join()).await;
        readers.finish().await;
        return Err(e);
    }
    report.hub_rss_before_mb = hub.rss_mb().await;

    let tally = Arc::new(Tally::default());
    let (attack_go, attack_go_rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let samples = Mutex::new(Samples::default());
    let sampler = sample(hub, &samples, stop_rx.clone());
    let flow = async {
        let r = async {
            let launched = attack::launch(
                attack,
                &target,
                tally.clone(),
                acks.clone(),
                attack_go_rx,
                stop_rx.clone(),
            )
            .await;
            let mut launched = match launched {
                Ok(l) => l,
                Err(e) => {
                    drop(honest_go);
                    let _ = stop.send(true);
                    let _ = tokio::task::spawn_blocking(move || honest.join()).await;
                    readers.finish().await;
                    return Err(format!("launching the attack: {e}"));
                }
            };
            let started = Instant::now();
            let _ = attack_go.send(true);
            let (_, ready) = tokio::join!(
                tokio::time::sleep(WARM_UP),
                tokio::time::timeout(Duration::from_secs(120), launched.ready.wait_for(|r| *r))
            );
            let mut failures = Vec::new();
            if !matches!(ready, Ok(Ok(_))) {
                failures.push("the attack was not in place within 120 s".to_string());
            }
            let warmup = started.elapsed();
            let _ = honest_go.send(true);
            let honest_started = Instant::now();
            let (outcome, ()) = tokio::join!(
                tokio::task::spawn_blocking(move || honest.join()),
                near_the_end(hub, &samples, duration)
            );
            let outcome = outcome
                .map_err(|e| format!("honest thread: {e}"))?
                .map_err(|_| "the honest thread panicked".to_string())?;
            let ran = honest_started.elapsed();
            // The readers end once they have what the writer had acked by
            // the end (the attack still going meanwhile).
            let seen = readers.finish().await;
            let _ = stop.send(true);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let mut stuck = 0;
            for mut t in launched.tasks {
                if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                    t.abort();
                    stuck += 1;
                }
            }
            if stuck > 0 {
                // Not a failure: a task blocked writing to a socket the hub
                // has stopped reading (as it does to a flood) cannot see the
                // stop; it is aborted.
                eprintln!(
                    "rota-load: {stuck} attack task(s) still blocked writing after 30 s; aborted"
                );
            }
            Ok((outcome, seen, warmup, ran, failures))
        }
        .await;
        // Whatever happened, the sampler stops.
        let _ = stop.send(true);
        r
    };
    let (result, ()) = tokio::join!(flow, sampler);
    let (outcome, seen, warmup, ran, failures) = result?;
    report.failures.extend(failures);
    if attack.measures_delivery() {
        let (figures, failures) = delivery::summarise(&acks, seen);
        report.delivery = Some(figures);
        report.failures.extend(failures);
    }
    report.warmup_s = warmup.as_secs_f64();
    report.duration_s = ran.as_secs_f64();
    report.attacker = tally.figures();
    report.connections_opened = report.attacker.connected + honest_conns;
    {
        let s = samples.lock().unwrap_or_else(|p| p.into_inner());
        report.hub_rss_peak_mb = s.peak_mb;
        report.hub_connections = s.connections;
        report.hub_parts_held_mb = s.assembling.map(|b| b / 1e6);
    }
    report.closed_by_hub = report
        .hub_connections
        .map(|c| report.connections_opened as i64 - c as i64);
    report.hub_rss_after_mb = rss_when_closed(hub).await;
    // Less the writer: the sockets never read.
    let never_read = report.attacker.connected.saturating_sub(1);
    if matches!(attack, Attack::NonReaders | Attack::SlowReaders)
        && let (Some(peak), Some(before)) = (report.hub_rss_peak_mb, report.hub_rss_before_mb)
        && never_read > 0
    {
        report.per_connection_kib = Some((peak - before) * 1e6 / 1024.0 / never_read as f64);
    }
    take_outcome(report, outcome);
    report.extra = extra(attack, report);
    Ok(())
}

/// The hub's memory once every connection of the run has gone (looked at
/// every 100 ms, for 30 s at most).
async fn rss_when_closed(hub: &HubUnderTest) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if hub.metric("rota_connections").await.unwrap_or(0.0) <= 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hub.rss_mb().await
}
